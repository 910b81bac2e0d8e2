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
 * Event base: a teacher's decision on an attempt's identity step.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy\event;

/**
 * What every decision on an identity step shares: the attempt is the object, its student the related user, the quiz in
 * other, and the attempt's proctoring report the place to see it. The log is the audit of the decision.
 *
 * @property-read array $other {
 *      - int quizid: the quiz
 * }
 */
abstract class identity_decision extends \core\event\base {
    /**
     * Event data.
     */
    protected function init() {
        $this->data['objecttable'] = 'quiz_attempts';
        $this->data['crud'] = 'u';
        $this->data['edulevel'] = self::LEVEL_TEACHING;
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
     * Required data: the related user and every field of other that get_other_mapping() names.
     *
     * @throws \coding_exception
     */
    protected function validate_data() {
        parent::validate_data();
        if (!isset($this->relateduserid)) {
            throw new \coding_exception('The \'relateduserid\' must be set.');
        }
        foreach (array_keys(static::get_other_mapping()) as $field) {
            if (!isset($this->other[$field])) {
                throw new \coding_exception("The '$field' value must be set in other.");
            }
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
        return ['quizid' => ['db' => 'quiz', 'restore' => 'quiz']];
    }
}
