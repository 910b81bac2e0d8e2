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
 * External function: forward one browser event.
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
 * Forwards a focus, tab, camera or upload event of the current user's attempt to the sidecar.
 */
class send_event extends external_api {
    /**
     * Parameters.
     *
     * @return external_function_parameters
     */
    public static function execute_parameters(): external_function_parameters {
        return new external_function_parameters([
            'attemptid' => new external_value(PARAM_INT, 'Quiz attempt id'),
            'type' => new external_value(PARAM_ALPHANUMEXT, 'Event type'),
            'at' => new external_value(PARAM_INT, 'When it happened, unix milliseconds'),
            'clienteventid' => new external_value(PARAM_ALPHANUM, 'Idempotency key chosen by the browser'),
        ]);
    }

    /**
     * Forward the event.
     *
     * @param int $attemptid quiz attempt id
     * @param string $type event type
     * @param int $at unix milliseconds
     * @param string $clienteventid idempotency key
     * @return array accepted
     */
    public static function execute(int $attemptid, string $type, int $at, string $clienteventid): array {
        $params = self::validate_parameters(self::execute_parameters(), compact('attemptid', 'type', 'at', 'clienteventid'));
        if (
            !in_array($params['type'], vocabulary::EVENT_TYPES, true)
                || strlen($params['clienteventid']) > vocabulary::CLIENT_KEY_MAX_LENGTH
        ) {
            throw new \invalid_parameter_exception('Unknown event type or clienteventid longer than 64 characters');
        }
        $proctored = proctored_attempt::for_current_user($params['attemptid']);
        forwarding::run(function () use ($proctored, $params) {
            return $proctored->forward_event($params['type'], $params['at'], $params['clienteventid']);
        });
        return ['accepted' => true];
    }

    /**
     * Result.
     *
     * @return external_single_structure
     */
    public static function execute_returns(): external_single_structure {
        return new external_single_structure([
            'accepted' => new external_value(PARAM_BOOL, 'The sidecar recorded the event'),
        ]);
    }
}
