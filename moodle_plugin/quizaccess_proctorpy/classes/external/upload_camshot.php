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
 * External function: forward one camshot.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy\external;

use core_external\external_api;
use core_external\external_function_parameters;
use core_external\external_single_structure;
use core_external\external_value;
use quizaccess_proctorpy\local\proctored_attempt;
use quizaccess_proctorpy\vocabulary;

/**
 * Forwards a camshot of the current user's attempt, signed, to the sidecar.
 */
class upload_camshot extends external_api {
    /**
     * Parameters.
     *
     * @return external_function_parameters
     */
    public static function execute_parameters(): external_function_parameters {
        return new external_function_parameters([
            'attemptid' => new external_value(PARAM_INT, 'Quiz attempt id'),
            'takenat' => new external_value(PARAM_INT, 'When the frame was taken, unix milliseconds'),
            'clientshotid' => new external_value(PARAM_ALPHANUM, 'Idempotency key chosen by the browser, kept across retries'),
            // Only "attempt"; kept so that capture pages loaded before an upgrade go on uploading.
            'kind' => new external_value(PARAM_ALPHA, 'attempt'),
            'image' => new external_value(PARAM_RAW, 'JPEG or PNG, base64 or data URL'),
        ]);
    }

    /**
     * Forward the camshot.
     *
     * @param int $attemptid quiz attempt id
     * @param int $takenat unix milliseconds
     * @param string $clientshotid idempotency key
     * @param string $kind attempt or identity
     * @param string $image base64 image
     * @return array id of the stored camshot
     */
    public static function execute(int $attemptid, int $takenat, string $clientshotid, string $kind, string $image): array {
        $params = self::validate_parameters(self::execute_parameters(), compact(
            'attemptid',
            'takenat',
            'clientshotid',
            'kind',
            'image'
        ));
        if (
            !in_array($params['kind'], vocabulary::CAMSHOT_KINDS, true)
                || strlen($params['clientshotid']) > vocabulary::CLIENT_KEY_MAX_LENGTH
        ) {
            throw new \invalid_parameter_exception('kind must be attempt (an identity photo goes through ' .
                'quizaccess_proctorpy_check_identity); clientshotid at most 64 characters');
        }
        $proctored = proctored_attempt::for_current_user($params['attemptid']);
        $checked = forwarding::image($params['image']);
        $answer = forwarding::run(function () use ($proctored, $checked, $params) {
            return $proctored->forward_camshot($checked, $params['takenat'], $params['clientshotid'], $params['kind']);
        });
        return ['id' => (string) ($answer['id'] ?? '')];
    }

    /**
     * Result.
     *
     * @return external_single_structure
     */
    public static function execute_returns(): external_single_structure {
        return new external_single_structure([
            'id' => new external_value(PARAM_RAW, 'The sidecar\'s camshot id'),
        ]);
    }
}
