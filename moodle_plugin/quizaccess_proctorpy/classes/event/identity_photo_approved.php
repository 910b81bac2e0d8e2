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
 * Event: identity photo approved.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy\event;

/**
 * A teacher approved the identity photo of an attempt that had no reference photo to match it with: it became the
 * reference and the attempt went on. The log is the audit of that decision.
 *
 * @property-read array $other {
 *      - int quizid: the quiz
 *      - string photoid: the sidecar's id of the identity photo
 * }
 */
class identity_photo_approved extends identity_decision {
    /**
     * Event name.
     *
     * @return string
     */
    public static function get_name() {
        return get_string('eventidentityphotoapproved', 'quizaccess_proctorpy');
    }

    /**
     * What happened, for the logs.
     *
     * @return string
     */
    public function get_description() {
        return "The user with id '$this->userid' approved the identity photo of the attempt with id '$this->objectid' of the " .
            "user with id '$this->relateduserid', which had no reference photo to match, in the quiz with course module " .
            "id '$this->contextinstanceid'.";
    }

    /**
     * How backup and restore map the other fields.
     *
     * @return array
     */
    public static function get_other_mapping() {
        return parent::get_other_mapping() + ['photoid' => self::NOT_MAPPED];
    }
}
