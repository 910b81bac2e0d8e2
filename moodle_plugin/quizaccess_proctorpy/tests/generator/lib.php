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
 * Data generator of the proctorpy quiz access rule.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

use quizaccess_proctorpy\proctoring_settings;

/**
 * Creates the plugin's own records: a quiz's proctoring settings.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class quizaccess_proctorpy_generator extends component_generator_base {
    /**
     * Proctoring settings of a quiz, as the quiz form saves them.
     *
     * Fields not given take the site defaults, with proctoring on.
     *
     * @param array $record quizid (required) and any of the fields of proctoring_settings::FIELDS
     * @return stdClass the row of quizaccess_proctorpy
     */
    public function create_settings(array $record): stdClass {
        global $DB;
        if (empty($record['quizid'])) {
            throw new coding_exception('quizaccess_proctorpy_generator::create_settings() needs a quizid');
        }
        $unknown = array_diff(array_keys($record), array_merge(['quizid'], array_keys(proctoring_settings::FIELDS)));
        if ($unknown) {
            throw new coding_exception('Unknown proctoring settings: ' . implode(', ', $unknown));
        }
        $row = (object) array_merge(
            proctoring_settings::defaults(get_config('quizaccess_proctorpy')),
            ['enabled' => 1],
            $record,
            ['timemodified' => time()]
        );
        $existing = $DB->get_record('quizaccess_proctorpy', ['quizid' => $row->quizid]);
        if ($existing) {
            $row->id = $existing->id;
            $DB->update_record('quizaccess_proctorpy', $row);
        } else {
            $row->id = $DB->insert_record('quizaccess_proctorpy', $row);
        }
        return $DB->get_record('quizaccess_proctorpy', ['id' => $row->id], '*', MUST_EXIST);
    }
}
