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
 * A camshot as the browser sends it.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy;

/**
 * Decodes and checks an image posted by the capture module before it is forwarded.
 *
 * The sidecar re-encodes every image; this check only keeps obviously wrong input (not an image,
 * too large, a strip no camera takes) from costing a call. Its bounds are the sidecar's defaults,
 * which the sidecar's test suite holds these constants to.
 */
class camshot_image {
    /** Largest image accepted, in bytes: the sidecar's storage.max_upload_bytes. */
    const MAX_BYTES = 4 * 1024 * 1024;

    /** Longest side accepted, in pixels: the sidecar's storage.max_image_side. */
    const MAX_SIDE = 4096;

    /** Largest ratio of the longer side to the shorter one: the sidecar's storage.max_aspect_ratio. */
    const MAX_ASPECT_RATIO = 4;

    /** @var string image bytes */
    public $bytes;
    /** @var string image/png or image/jpeg */
    public $mimetype;

    /**
     * An image already checked.
     *
     * @param string $bytes image bytes
     * @param string $mimetype MIME type
     */
    private function __construct(string $bytes, string $mimetype) {
        $this->bytes = $bytes;
        $this->mimetype = $mimetype;
    }

    /**
     * Decode base64 (optionally a `data:image/...;base64,` URL) into a checked image.
     *
     * @param string $data base64 text
     * @return self
     * @throws \InvalidArgumentException with the lang string id of the problem as message
     */
    public static function from_base64(string $data): self {
        $comma = strpos($data, ',');
        if (strncmp($data, 'data:', 5) === 0 && $comma !== false) {
            $data = substr($data, $comma + 1);
        }
        if (strlen($data) > self::MAX_BYTES * 4 / 3 + 4) {
            throw new \InvalidArgumentException('err_imagetoolarge');
        }
        $bytes = base64_decode($data, true);
        if ($bytes === false || $bytes === '') {
            throw new \InvalidArgumentException('err_imagenotbase64');
        }
        if (strncmp($bytes, "\x89PNG\r\n\x1a\n", 8) === 0) {
            $mimetype = 'image/png';
        } else if (strncmp($bytes, "\xFF\xD8\xFF", 3) === 0) {
            $mimetype = 'image/jpeg';
        } else {
            throw new \InvalidArgumentException('err_imagetype');
        }
        self::check_sides($bytes);
        return new self($bytes, $mimetype);
    }

    /**
     * Refuse an image whose header declares a side or a shape the sidecar refuses; no pixel is decoded.
     *
     * A header PHP cannot read is left to the sidecar's decoder, which says what is wrong with it.
     *
     * @param string $bytes PNG or JPEG bytes
     * @throws \InvalidArgumentException with the lang string id of the problem as message
     */
    private static function check_sides(string $bytes): void {
        $size = getimagesizefromstring($bytes);
        if ($size === false) {
            return;
        }
        [$width, $height] = $size;
        if (max($width, $height) > self::MAX_SIDE) {
            throw new \InvalidArgumentException('err_imagesides');
        }
        if (min($width, $height) < 1 || max($width, $height) > self::MAX_ASPECT_RATIO * min($width, $height)) {
            throw new \InvalidArgumentException('err_imageaspect');
        }
    }
}
