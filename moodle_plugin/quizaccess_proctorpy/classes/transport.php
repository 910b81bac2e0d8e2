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
 * How the client reaches the sidecar over HTTP.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy;

/**
 * Sends one HTTP request; the plugin uses Moodle's curl, tests may use another.
 */
interface transport {
    /**
     * Send a request and return the answer, whatever its status.
     *
     * @param string $method HTTP method
     * @param string $url absolute URL
     * @param string[] $headers header lines `Name: value`
     * @param string $body raw body ('' for none)
     * @param int $timeout seconds for the whole request
     * @return response
     * @throws sidecar_exception with problem `unreachable` or `blocked` when no answer came
     */
    public function send(string $method, string $url, array $headers, string $body, int $timeout): response;
}
