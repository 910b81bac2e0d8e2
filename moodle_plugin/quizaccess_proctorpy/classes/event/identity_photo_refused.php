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
 * Event: identity photo refused.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy\event;

/**
 * A teacher refused the identity photo of an attempt that had no reference photo to match it with: the attempt
 * stays at its identity step. The log is the audit of that decision.
 *
 * @property-read array $other {
 *      - int quizid: the quiz
 *      - string photoid: the sidecar's id of the identity photo
 * }
 */
class identity_photo_refused extends \core\event\base {
    /**
     * Event data.
     */
    protected function init() {
        $this->data['objecttable'] = 'quiz_attempts';
        $this->data['crud'] = 'u';
        $this->data['edulevel'] = self::LEVEL_TEACHING;
    }

    /**
     * Event name.
     *
     * @return string
     */
    public static function get_name() {
        return get_string('eventidentityphotorefused', 'quizaccess_proctorpy');
    }

    /**
     * What happened, for the logs.
     *
     * @return string
     */
    public function get_description() {
        return "The user with id '$this->userid' refused the identity photo of the attempt with id '$this->objectid' of the " .
            "user with id '$this->relateduserid', which had no reference photo to match, in the quiz with course module " .
            "id '$this->contextinstanceid'.";
    }

    /**
     * The attempt's proctoring report.
     *
     * @return \moodle_url
     */
    public function get_url() {
        return new \moodle_url(
            '/mod/quiz/accessrule/proctorpy/report.php',
            ['cmid' => $this->contextinstanceid, 'attempt' => $this->objectid]
        );
    }

    /**
     * Required data.
     *
     * @throws \coding_exception
     */
    protected function validate_data() {
        parent::validate_data();
        if (!isset($this->relateduserid)) {
            throw new \coding_exception('The \'relateduserid\' must be set.');
        }
        if (!isset($this->other['quizid'])) {
            throw new \coding_exception('The \'quizid\' value must be set in other.');
        }
        if (!isset($this->other['photoid'])) {
            throw new \coding_exception('The \'photoid\' value must be set in other.');
        }
    }

    /**
     * How backup and restore map the object.
     *
     * @return array
     */
    public static function get_objectid_mapping() {
        return ['db' => 'quiz_attempts', 'restore' => 'quiz_attempt'];
    }

    /**
     * How backup and restore map the other fields.
     *
     * @return array
     */
    public static function get_other_mapping() {
        return ['quizid' => ['db' => 'quiz', 'restore' => 'quiz'], 'photoid' => self::NOT_MAPPED];
    }
}
