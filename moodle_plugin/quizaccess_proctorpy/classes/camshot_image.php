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
 * too large) from costing a call.
 */
class camshot_image {

    /** Largest image accepted, in bytes. */
    const MAX_BYTES = 4 * 1024 * 1024;

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
            return new self($bytes, 'image/png');
        }
        if (strncmp($bytes, "\xFF\xD8\xFF", 3) === 0) {
            return new self($bytes, 'image/jpeg');
        }
        throw new \InvalidArgumentException('err_imagetype');
    }
}
