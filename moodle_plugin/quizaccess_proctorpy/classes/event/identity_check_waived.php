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
 * Event: a teacher let an attempt go on without a passing identity check.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy\event;

/**
 * A teacher let an attempt go on without a passing identity check; the log is the audit of that decision.
 *
 * @property-read array $other {
 *      - int quizid: the quiz
 * }
 */
class identity_check_waived extends identity_decision {
    /**
     * Event name.
     *
     * @return string
     */
    public static function get_name() {
        return get_string('eventidentitycheckwaived', 'quizaccess_proctorpy');
    }

    /**
     * What happened, for the logs.
     *
     * @return string
     */
    public function get_description() {
        return "The user with id '$this->userid' let the attempt with id '$this->objectid' of the user with id " .
            "'$this->relateduserid' go on without a passing identity check, in the quiz with course module id " .
            "'$this->contextinstanceid'.";
    }
}
