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
 * External function: the liveness challenge of the next identity check.
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
use quizaccess_proctorpy\local\identity_step;
use quizaccess_proctorpy\local\proctored_attempt;
use quizaccess_proctorpy\sidecar_exception;

/**
 * Asks the sidecar to draw the challenge the student follows while the camera takes the identity frames.
 *
 * The sidecar draws it at random, for this attempt, for one use and a short time; a photo held up to the
 * camera cannot follow it. Past the sidecar's limit of refused checks the student waits for the teacher.
 */
class get_identity_challenge extends external_api {
    /** @var string[] the challenges the sidecar draws from, each with its instruction string challenge_<kind> */
    const CHALLENGES = ['closer', 'left', 'right'];

    /**
     * Parameters.
     *
     * @return external_function_parameters
     */
    public static function execute_parameters(): external_function_parameters {
        return new external_function_parameters([
            'attemptid' => new external_value(PARAM_INT, 'Quiz attempt id'),
        ]);
    }

    /**
     * Draw the challenge.
     *
     * @param int $attemptid quiz attempt id
     * @return array the challenge's id, instruction, frames to take and over how many seconds; or waiting
     */
    public static function execute(int $attemptid): array {
        $params = self::validate_parameters(self::execute_parameters(), compact('attemptid'));
        $proctored = proctored_attempt::for_current_user($params['attemptid']);
        if (!identity_step::pending($proctored->quiz_settings()->get_quiz(), $params['attemptid'])) {
            throw new \moodle_exception('err_identitystepover', 'quizaccess_proctorpy');
        }
        $challenge = forwarding::run(function () use ($proctored) {
            try {
                return $proctored->identity_challenge();
            } catch (sidecar_exception $e) {
                if ($e->errorcode === 'identity_refusals_exhausted') {
                    return ['waiting' => true];
                }
                throw $e;
            }
        });
        if (!empty($challenge['waiting'])) {
            return ['challengeid' => '', 'instruction' => '', 'frames' => 0, 'seconds' => 0, 'waiting' => true,
                'message' => get_string('identitywaitteacher', 'quizaccess_proctorpy')];
        }
        if (!in_array($challenge['kind'] ?? '', self::CHALLENGES, true)) {
            throw new \moodle_exception('sidecarrefused', 'quizaccess_proctorpy', '', 'unknown challenge');
        }
        return [
            'challengeid' => (string) $challenge['id'],
            'instruction' => get_string('challenge_' . $challenge['kind'], 'quizaccess_proctorpy'),
            'frames' => (int) $challenge['frames'],
            'seconds' => (int) $challenge['seconds'],
            'waiting' => false,
            'message' => '',
        ];
    }

    /**
     * Result.
     *
     * @return external_single_structure
     */
    public static function execute_returns(): external_single_structure {
        return new external_single_structure([
            'challengeid' => new external_value(PARAM_ALPHANUM, 'The challenge, to send back with the frames'),
            'instruction' => new external_value(PARAM_TEXT, 'What the student does while the frames are taken'),
            'frames' => new external_value(PARAM_INT, 'How many frames to take'),
            'seconds' => new external_value(PARAM_INT, 'Over how many seconds'),
            'waiting' => new external_value(PARAM_BOOL, 'Whether the student now waits for the teacher'),
            'message' => new external_value(PARAM_TEXT, 'What to tell the student when waiting'),
        ]);
    }
}
