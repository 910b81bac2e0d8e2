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
 * Live view of a quiz for its teachers: one tile per attempt in progress, refreshed every few seconds.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

require_once(__DIR__ . '/../../../../config.php');

use quizaccess_proctorpy\local\live_view;
use quizaccess_proctorpy\local\page_access;

$cmid = required_param('cmid', PARAM_INT);
$flaggedonly = optional_param('flagged', 0, PARAM_BOOL);

[$course, $cm] = get_course_and_cm_from_cmid($cmid, 'quiz');
require_login($course, false, $cm);
page_access::require_report_viewer($cm);

$baseurl = new moodle_url('/mod/quiz/accessrule/proctorpy/live.php', ['cmid' => $cmid]);
$title = get_string('livetitle', 'quizaccess_proctorpy', format_string($cm->name));
$PAGE->set_url($flaggedonly ? new moodle_url($baseurl, ['flagged' => 1]) : $baseurl);
$PAGE->set_title($title);
$PAGE->set_heading(format_string($course->fullname));
$PAGE->navbar->add(get_string('liveheading', 'quizaccess_proctorpy'), $baseurl);

// The group selector first: choosing a group is remembered in the session, where the refreshes find it.
$groupselector = groups_print_activity_menu($cm, $baseurl, true);
$data = live_view::for_quiz($cm)->page_context($flaggedonly);
$PAGE->requires->js_call_amd('quizaccess_proctorpy/live', 'init', [$cmid, live_view::REFRESH_SECONDS]);

echo $OUTPUT->header();
echo $OUTPUT->heading(get_string('liveheading', 'quizaccess_proctorpy'), 3);
echo $groupselector;
echo $OUTPUT->render_from_template('quizaccess_proctorpy/live', $data);
echo $OUTPUT->footer();
