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
 * Streams a camshot or reference photo from the sidecar to a viewer who may see it.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy\local;

use quizaccess_proctorpy\api;
use quizaccess_proctorpy\image_link;
use quizaccess_proctorpy\sidecar_client;

/**
 * The image behind image.php and the plugin's pluginfile areas, once the viewer's capabilities are checked.
 */
class image_proxy {
    /** Pluginfile area of camshots full size: the right to download images is needed. */
    const AREA_IMAGE = 'camshot';

    /** Pluginfile area of thumbnails: the right to view reports is enough. */
    const AREA_THUMB = 'thumb';

    /**
     * Send the image and end the request; "not found" for an image the attempt's report does not show.
     *
     * The image must be one of the attempt's camshots or reference photos. The attempt's list of images is kept
     * in the session so that a grid of thumbnails costs one lookup, and refreshed when an id is not in it.
     *
     * @param \cm_info $cm the quiz, whose report viewer (and, full size, image downloader) was checked
     * @param int $attemptid the attempt
     * @param string $camshotid the sidecar's image id
     * @param bool $thumb the thumbnail rather than the image
     * @param bool $forcedownload send as an attachment
     * @throws \quizaccess_proctorpy\sidecar_exception
     */
    public static function send(\cm_info $cm, int $attemptid, string $camshotid, bool $thumb, bool $forcedownload = false): void {
        global $SESSION, $USER;
        page_access::attempt_of_quiz($attemptid, $cm);
        if (!api::is_camshot_id($camshotid)) {
            send_file_not_found();
        }
        $client = sidecar_client::from_config();
        $actor = api::actor((int) $USER->id, fullname($USER));
        $ids = $SESSION->quizaccess_proctorpy_shots[$attemptid] ?? [];
        if (!in_array($camshotid, $ids, true)) {
            $ids = image_link::attempt_image_ids($client, $attemptid, $actor);
            $SESSION->quizaccess_proctorpy_shots = [$attemptid => $ids];
        }
        if (!in_array($camshotid, $ids, true)) {
            send_file_not_found();
        }
        \core\session\manager::write_close();

        $response = $client->call('GET', api::camshot_image($camshotid, $thumb, $actor));
        $mimetype = $response->contenttype === 'image/jpeg' ? 'image/jpeg' : 'image/png';
        send_file(
            $response->body,
            $camshotid . ($mimetype === 'image/png' ? '.png' : '.jpg'),
            0,
            0,
            true,
            $forcedownload,
            $mimetype
        );
    }

    /**
     * The address of an image through Moodle's pluginfile, as web service clients fetch it with their token.
     *
     * @param \context_module $context the quiz's context
     * @param int $attemptid the attempt
     * @param string $camshotid the sidecar's image id
     * @param bool $thumb the thumbnail rather than the image
     * @return string
     */
    public static function webservice_url(\context_module $context, int $attemptid, string $camshotid, bool $thumb): string {
        return \moodle_url::make_webservice_pluginfile_url(
            $context->id,
            'quizaccess_proctorpy',
            $thumb ? self::AREA_THUMB : self::AREA_IMAGE,
            $attemptid,
            '/',
            $camshotid . '.png'
        )->out(false);
    }
}
