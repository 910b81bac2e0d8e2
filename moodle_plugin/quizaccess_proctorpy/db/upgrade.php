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
 * Upgrade steps of the proctorpy quiz access rule.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

defined('MOODLE_INTERNAL') || die();

require_once(__DIR__ . '/upgradelib.php');

/**
 * Bring the plugin's table up to date from an older version.
 *
 * The first release installs from install.xml; each later schema change adds a step here,
 * guarded by the version that introduced it.
 *
 * @param int $oldversion version installed before this upgrade
 * @return bool
 */
function xmldb_quizaccess_proctorpy_upgrade($oldversion) {
    global $DB;
    $dbman = $DB->get_manager();

    if ($oldversion < 2026120200) {
        // The identity step is decided by the server: each attempt's outcome is kept here.
        $table = new xmldb_table('quizaccess_proctorpy_idcheck');
        $table->add_field('id', XMLDB_TYPE_INTEGER, '10', null, XMLDB_NOTNULL, XMLDB_SEQUENCE, null);
        $table->add_field('attemptid', XMLDB_TYPE_INTEGER, '10', null, XMLDB_NOTNULL, null, null);
        $table->add_field('outcome', XMLDB_TYPE_CHAR, '10', null, XMLDB_NOTNULL, null, null);
        $table->add_field('waivedby', XMLDB_TYPE_INTEGER, '10', null, XMLDB_NOTNULL, null, '0');
        $table->add_field('timecreated', XMLDB_TYPE_INTEGER, '10', null, XMLDB_NOTNULL, null, '0');
        $table->add_key('primary', XMLDB_KEY_PRIMARY, ['id']);
        $table->add_key('attemptid', XMLDB_KEY_FOREIGN_UNIQUE, ['attemptid'], 'quiz_attempts', ['id']);
        if (!$dbman->table_exists($table)) {
            $dbman->create_table($table);
        }
        // Attempts in progress at upgrade time passed the browser's check already: they go on as before.
        $sql = "SELECT qa.id
                  FROM {quiz_attempts} qa
                  JOIN {quizaccess_proctorpy} p ON p.quizid = qa.quiz
                 WHERE qa.state IN ('inprogress', 'overdue') AND p.identitycheck <> 'none'";
        $now = time();
        foreach ($DB->get_fieldset_sql($sql) as $attemptid) {
            $DB->insert_record(
                'quizaccess_proctorpy_idcheck',
                ['attemptid' => $attemptid, 'outcome' => 'passed', 'waivedby' => 0, 'timecreated' => $now]
            );
        }
        upgrade_plugin_savepoint(true, 2026120200, 'quizaccess', 'proctorpy');
    }

    if ($oldversion < 2026120301) {
        // Teachers are notified of flagged attempts, a quiz at a time: on unless the quiz turns it off.
        $table = new xmldb_table('quizaccess_proctorpy');
        $field = new xmldb_field('alerts', XMLDB_TYPE_INTEGER, '1', null, XMLDB_NOTNULL, null, '1', 'timemodified');
        if (!$dbman->field_exists($table, $field)) {
            $dbman->add_field($table, $field);
        }
        // One alert per flagged attempt, recorded so that no teacher hears of it twice.
        $table = new xmldb_table('quizaccess_proctorpy_alert');
        $table->add_field('id', XMLDB_TYPE_INTEGER, '10', null, XMLDB_NOTNULL, XMLDB_SEQUENCE, null);
        $table->add_field('attemptid', XMLDB_TYPE_INTEGER, '10', null, XMLDB_NOTNULL, null, null);
        $table->add_field('score', XMLDB_TYPE_NUMBER, '5, 1', null, null, null, null);
        $table->add_field('recipients', XMLDB_TYPE_INTEGER, '10', null, XMLDB_NOTNULL, null, '0');
        $table->add_field('timecreated', XMLDB_TYPE_INTEGER, '10', null, XMLDB_NOTNULL, null, '0');
        $table->add_key('primary', XMLDB_KEY_PRIMARY, ['id']);
        $table->add_key('attemptid', XMLDB_KEY_FOREIGN_UNIQUE, ['attemptid'], 'quiz_attempts', ['id']);
        if (!$dbman->table_exists($table)) {
            $dbman->create_table($table);
        }
        upgrade_plugin_savepoint(true, 2026120301, 'quizaccess', 'proctorpy');
    }

    if ($oldversion < 2026120601) {
        quizaccess_proctorpy_alerts_popup_by_default();
        upgrade_plugin_savepoint(true, 2026120601, 'quizaccess', 'proctorpy');
    }

    return true;
}
