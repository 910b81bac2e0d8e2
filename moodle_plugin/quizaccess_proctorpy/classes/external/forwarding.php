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
 * Checks and error mapping shared by the capture module's external functions.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy\external;

use quizaccess_proctorpy\camshot_image;
use quizaccess_proctorpy\sidecar_exception;

/**
 * Turns the two failures the browser must tell apart into exceptions with stable codes:
 * `sidecarunavailable` (try again later) and anything else (do not retry).
 */
class forwarding {
    /**
     * Decode an image or refuse it with a reason.
     *
     * @param string $image base64 or data URL
     * @return camshot_image
     * @throws \invalid_parameter_exception
     */
    public static function image(string $image): camshot_image {
        try {
            return camshot_image::from_base64($image);
        } catch (\InvalidArgumentException $e) {
            throw new \invalid_parameter_exception(get_string($e->getMessage(), 'quizaccess_proctorpy'));
        }
    }

    /**
     * Run a sidecar call, mapping its failures.
     *
     * @param callable $call the call
     * @return array its answer
     * @throws \moodle_exception
     */
    public static function run(callable $call): array {
        try {
            return $call();
        } catch (sidecar_exception $e) {
            if ($e->is_transient() || $e->problem === 'blocked') {
                throw new \moodle_exception('sidecarunavailable', 'quizaccess_proctorpy', '', null, $e->getMessage());
            }
            throw new \moodle_exception('sidecarrefused', 'quizaccess_proctorpy', '', $e->getMessage());
        }
    }
}
