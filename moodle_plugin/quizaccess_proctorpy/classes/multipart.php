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
 * Multipart form bodies, built as bytes so they can be signed.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy;

/**
 * A multipart/form-data body with text fields and files.
 *
 * The signature covers the body's SHA-256, so the body is built here rather than by curl.
 */
class multipart {
    /** @var string raw body */
    public $body;
    /** @var string value for the Content-Type header */
    public $contenttype;

    /**
     * Build a body.
     *
     * @param array $fields text fields name => value
     * @param array $files the file parts, each [field name, file name, content, MIME type]; a name may repeat
     * @param string|null $boundary fixed boundary (tests), random when null
     */
    public function __construct(array $fields, array $files, ?string $boundary = null) {
        $boundary = $boundary ?? 'proctorpy' . bin2hex(random_bytes(12));
        $parts = '';
        foreach ($fields as $name => $value) {
            $parts .= '--' . $boundary . "\r\n"
                . 'Content-Disposition: form-data; name="' . self::quote($name) . "\"\r\n\r\n"
                . $value . "\r\n";
        }
        foreach ($files as [$filefield, $filename, $filebytes, $filetype]) {
            $parts .= '--' . $boundary . "\r\n"
                . 'Content-Disposition: form-data; name="' . self::quote($filefield) . '"; filename="'
                . self::quote($filename) . "\"\r\n"
                . 'Content-Type: ' . $filetype . "\r\n\r\n"
                . $filebytes . "\r\n";
        }
        $this->body = $parts . '--' . $boundary . "--\r\n";
        $this->contenttype = 'multipart/form-data; boundary=' . $boundary;
    }

    /**
     * A name safe inside a quoted header parameter.
     *
     * @param string $name field or file name
     * @return string
     */
    private static function quote(string $name): string {
        return str_replace(['"', "\r", "\n"], ['%22', '%0D', '%0A'], $name);
    }
}
