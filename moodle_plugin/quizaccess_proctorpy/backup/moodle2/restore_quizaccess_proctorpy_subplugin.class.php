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
 * Restore of a quiz's proctoring settings.
 *
 * @package    quizaccess_proctorpy
 * @category   backup
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

defined('MOODLE_INTERNAL') || die();

require_once($CFG->dirroot . '/mod/quiz/backup/moodle2/restore_mod_quiz_access_subplugin.class.php');

use quizaccess_proctorpy\proctoring_settings;

/**
 * Writes the backed-up proctoring settings to the restored quiz.
 */
class restore_quizaccess_proctorpy_subplugin extends restore_mod_quiz_access_subplugin {
    /**
     * Where the settings are in the quiz's backup.
     *
     * @return restore_path_element[]
     */
    protected function define_quiz_subplugin_structure() {
        return [new restore_path_element('quizaccess_proctorpy_settings', $this->get_pathfor('/quizaccess_proctorpy_settings'))];
    }

    /**
     * Store the settings for the restored quiz.
     *
     * A backup may come from another site or an older release, so each value is read as the
     * table's type; an identity check this release does not know falls back to none, and a setting
     * the backup's release did not have (alerts, before 0.4) takes its default.
     *
     * @param array|stdClass $data the settings as backed up
     */
    public function process_quizaccess_proctorpy_settings($data) {
        global $DB;
        $data = (array) $data;
        $defaults = proctoring_settings::defaults(get_config('quizaccess_proctorpy'));
        $record = new stdClass();
        $record->quizid = $this->get_new_parentid('quiz');
        foreach (proctoring_settings::FIELDS as $name => $type) {
            $value = array_key_exists($name, $data) ? $data[$name] : $defaults[$name];
            if ($type === 'string') {
                $record->$name = (string) $value;
            } else if ($type === '?int') {
                $record->$name = ($value === null || $value === '') ? null : (int) $value;
            } else {
                $record->$name = (int) $value;
            }
        }
        if (!in_array($record->identitycheck, proctoring_settings::IDENTITY_CHECKS, true)) {
            $record->identitycheck = 'none';
        }
        $record->timemodified = time();

        $existing = $DB->get_record('quizaccess_proctorpy', ['quizid' => $record->quizid], 'id');
        if ($existing) {
            $record->id = $existing->id;
            $DB->update_record('quizaccess_proctorpy', $record);
        } else {
            $DB->insert_record('quizaccess_proctorpy', $record);
        }
    }
}
