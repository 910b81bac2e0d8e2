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
 * External function: identity check at the start of an attempt.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy\external;

use core_external\external_api;
use core_external\external_function_parameters;
use core_external\external_multiple_structure;
use core_external\external_single_structure;
use core_external\external_value;
use quizaccess_proctorpy\local\identity_step;
use quizaccess_proctorpy\local\proctored_attempt;

/**
 * Sends the frames taken while the student followed the liveness challenge for the sidecar's synchronous
 * check; a pass ends the attempt's identity step.
 *
 * Frames are taken only while the step lasts: once it is over, a photo could become the attempt's
 * reference at any time.
 */
class check_identity extends external_api {
    /**
     * Parameters.
     *
     * @return external_function_parameters
     */
    public static function execute_parameters(): external_function_parameters {
        return new external_function_parameters([
            'attemptid' => new external_value(PARAM_INT, 'Quiz attempt id'),
            'takenat' => new external_value(PARAM_INT, 'When the photo was taken, unix milliseconds'),
            'clientshotid' => new external_value(PARAM_ALPHANUM, 'Idempotency key chosen by the browser'),
            'challengeid' => new external_value(PARAM_ALPHANUM, 'The challenge the student followed'),
            'frames' => new external_multiple_structure(
                new external_value(PARAM_RAW, 'JPEG or PNG, base64 or data URL'),
                'The frames taken while the student followed the challenge, in order'
            ),
        ]);
    }

    /**
     * Check the frames.
     *
     * @param int $attemptid quiz attempt id
     * @param int $takenat unix milliseconds
     * @param string $clientshotid idempotency key
     * @param string $challengeid the challenge's id
     * @param string[] $frames base64 images
     * @return array passed, the sentence to show, and the refusals left before the teacher must decide
     */
    public static function execute(
        int $attemptid,
        int $takenat,
        string $clientshotid,
        string $challengeid,
        array $frames
    ): array {
        $params = self::validate_parameters(self::execute_parameters(), compact(
            'attemptid',
            'takenat',
            'clientshotid',
            'challengeid',
            'frames'
        ));
        $proctored = proctored_attempt::for_current_user($params['attemptid']);
        if (!identity_step::pending($proctored->quiz_settings()->get_quiz(), $params['attemptid'])) {
            throw new \moodle_exception('err_identitystepover', 'quizaccess_proctorpy');
        }
        $checked = array_map([forwarding::class, 'image'], $params['frames']);
        $answer = forwarding::run(function () use ($proctored, $checked, $params) {
            return $proctored->check_identity($checked, $params['takenat'], $params['clientshotid'], $params['challengeid']);
        });
        $passed = !empty($answer['passed']);
        if ($passed) {
            identity_step::record_pass($params['attemptid']);
        }
        return [
            'passed' => $passed,
            'message' => (string) ($answer['message'] ?? ''),
            'refusalsleft' => (int) ($answer['refusals_left'] ?? 0),
        ];
    }

    /**
     * Result.
     *
     * @return external_single_structure
     */
    public static function execute_returns(): external_single_structure {
        return new external_single_structure([
            'passed' => new external_value(PARAM_BOOL, 'Whether the check passed'),
            'message' => new external_value(PARAM_TEXT, 'Sentence from the sidecar to show the student'),
            'refusalsleft' => new external_value(PARAM_INT, 'Refused checks left before the student waits for the teacher'),
        ]);
    }
}
