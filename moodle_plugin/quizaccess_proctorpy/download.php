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
 * Streams a CSV overview or an attempt's PDF report from the sidecar to a user allowed to see it.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

require_once(__DIR__ . '/../../../../config.php');

use quizaccess_proctorpy\api;
use quizaccess_proctorpy\local\page_access;
use quizaccess_proctorpy\sidecar_client;

$cmid = required_param('cmid', PARAM_INT);
$what = required_param('what', PARAM_ALPHA);

[$course, $cm] = get_course_and_cm_from_cmid($cmid, 'quiz');
require_login($course, false, $cm);
$context = page_access::require_report_viewer($cm);
page_access::require_download($context, $what);

$client = sidecar_client::from_config(60);
$actor = api::actor((int) $USER->id, fullname($USER));

if ($what === 'pdf') {
    $attemptid = required_param('attempt', PARAM_INT);
    page_access::attempt_of_quiz($attemptid, $cm);
    $response = $client->call('GET', api::attempt_pdf(
        $attemptid,
        $actor,
        page_access::nameable_user_ids($cm),
        core_date::get_user_timezone()
    ));
    send_file($response->body, 'proctoring-attempt-' . $attemptid . '.pdf', 0, 0, true, true, 'application/pdf');
} else {
    $params = [];
    foreach (api::OVERVIEW_PARAMS as $name) {
        $params[$name] = optional_param($name, '', PARAM_TEXT);
    }
    $userids = page_access::listed_user_ids($cm);
    if ($userids === []) {
        throw new moodle_exception('nostudentstolist', 'quizaccess_proctorpy');
    }
    $response = $client->call('GET', api::quiz_attempts(
        (int) $cm->instance,
        'csv',
        $params,
        $actor,
        core_date::get_user_timezone(),
        '',
        '',
        $userids
    ));
    send_file($response->body, 'proctoring-quiz-' . $cm->instance . '.csv', 0, 0, true, true, 'text/csv');
}
