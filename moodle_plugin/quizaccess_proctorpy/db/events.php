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
 * Event observers of the proctorpy quiz access rule.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

defined('MOODLE_INTERNAL') || die();

// The sidecar is told of starts and ends only once Moodle has committed them ('internal' => false): a
// rolled-back submission must never reach it as finished. Deletions queue tasks, which belong inside
// the transaction that deletes.
$observers = [
    ['eventname' => '\mod_quiz\event\attempt_started', 'callback' => '\quizaccess_proctorpy\observer::attempt_started',
        'internal' => false],
    ['eventname' => '\mod_quiz\event\attempt_submitted', 'callback' => '\quizaccess_proctorpy\observer::attempt_ended',
        'internal' => false],
    ['eventname' => '\mod_quiz\event\attempt_abandoned', 'callback' => '\quizaccess_proctorpy\observer::attempt_ended',
        'internal' => false],
    ['eventname' => '\mod_quiz\event\attempt_deleted', 'callback' => '\quizaccess_proctorpy\observer::attempt_deleted'],
    ['eventname' => '\core\event\course_module_deleted', 'callback' => '\quizaccess_proctorpy\observer::course_module_deleted'],
    ['eventname' => '\core\event\course_deleted', 'callback' => '\quizaccess_proctorpy\observer::course_deleted'],
];
