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
 * What a transport hands back from the sidecar.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy;

/**
 * One HTTP answer: status, content type and raw body.
 */
class response {
    /** @var int HTTP status */
    public $status;
    /** @var string value of the Content-Type header, '' when absent */
    public $contenttype;
    /** @var string raw body */
    public $body;

    /**
     * An answer as received.
     *
     * @param int $status HTTP status
     * @param string $contenttype Content-Type header
     * @param string $body raw body
     */
    public function __construct(int $status, string $contenttype, string $body) {
        $this->status = $status;
        $this->contenttype = $contenttype;
        $this->body = $body;
    }

    /**
     * The body decoded as a JSON object, or null when it is not one.
     *
     * @return array|null
     */
    public function json(): ?array {
        $data = json_decode($this->body, true);
        return is_array($data) ? $data : null;
    }

    /**
     * Whether the status is 2xx.
     *
     * @return bool
     */
    public function ok(): bool {
        return $this->status >= 200 && $this->status < 300;
    }
}
