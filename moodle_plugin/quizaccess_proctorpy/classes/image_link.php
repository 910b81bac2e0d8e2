<?php
// This file is part of Moodle - https://moodle.org/
//
// Moodle is free software: you can redistribute it and/or modify
// it under the terms of the GNU General Public License as published by
// the Free Software Foundation, either version 3 of the License, or
// (at your option) any later version.
//
// Moodle is distributed in the hope that it will be useful,
// but WITHOUT ANY WARRANTY; without even the implied warranty of
// MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
// GNU General Public License for more details.
//
// You should have received a copy of the GNU General Public License
// along with Moodle.  If not, see <https://www.gnu.org/licenses/>.

/**
 * Addresses of camshot and reference photo images behind the plugin's proxy.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy;

/**
 * Builds and reads the proxy address of a camshot image.
 *
 * The sidecar's attempt report refers to images as `<image_base><camshot id>`, adding `?size=thumb`
 * for thumbnails. The base is therefore a path ending in a slash, read back by image.php as its
 * file argument: `/<cmid>/<attemptid>/<camshot id>`. Where slash arguments are off, Moodle passes
 * that path as `?file=`, and the thumbnail marker then arrives inside it; both forms are read.
 */
class image_link {
    /**
     * The image base for one attempt's report.
     *
     * @param string $wwwroot Moodle's $CFG->wwwroot
     * @param int $cmid course module id of the quiz
     * @param int $attemptid quiz attempt id
     * @param bool $slasharguments whether the site uses slash arguments
     * @return string
     */
    public static function base(string $wwwroot, int $cmid, int $attemptid, bool $slasharguments = true): string {
        $script = $wwwroot . '/mod/quiz/accessrule/proctorpy/image.php';
        $path = '/' . $cmid . '/' . $attemptid . '/';
        return $slasharguments ? $script . $path : $script . '?file=' . $path;
    }

    /**
     * Read a file argument back.
     *
     * @param string $file path after image.php (or the `file` parameter)
     * @param bool $thumbparam whether `size=thumb` came as a separate parameter
     * @return array|null ['cmid' => int, 'attemptid' => int, 'camshotid' => string, 'thumb' => bool], null if malformed
     */
    public static function parse(string $file, bool $thumbparam): ?array {
        $thumb = $thumbparam;
        $marker = strpos($file, '?');
        if ($marker !== false) {
            $thumb = $thumb || substr($file, $marker) === '?size=thumb';
            $file = substr($file, 0, $marker);
        }
        if (!preg_match('~^/(\d{1,10})/(\d{1,10})/([^/]+)$~', $file, $m) || !api::is_camshot_id($m[3])) {
            return null;
        }
        return ['cmid' => (int) $m[1], 'attemptid' => (int) $m[2], 'camshotid' => $m[3], 'thumb' => $thumb];
    }

    /**
     * The ids of the images an attempt's report shows: its camshots and its reference photos.
     *
     * The reference photos are the student's Moodle profile photo and the photo taken at the
     * identity check (a camshot too, under the same id).
     *
     * @param array $record the sidecar's answer to GET /api/v1/attempts/<id>
     * @return string[]
     */
    public static function image_ids(array $record): array {
        $ids = [];
        foreach (['shots', 'references'] as $list) {
            foreach ($record[$list] ?? [] as $image) {
                if (isset($image['id']) && is_scalar($image['id'])) {
                    $ids[] = (string) $image['id'];
                }
            }
        }
        return array_values(array_unique($ids));
    }

    /**
     * Ask the sidecar which images an attempt's report shows.
     *
     * @param sidecar_client $client the sidecar
     * @param int $attemptid quiz attempt id
     * @param array $actor ['actor_id' => int, 'actor_name' => string]
     * @return string[] image ids
     * @throws sidecar_exception
     */
    public static function attempt_image_ids(sidecar_client $client, int $attemptid, array $actor): array {
        return self::image_ids($client->json('GET', api::with_query(api::attempt($attemptid), $actor)));
    }
}
