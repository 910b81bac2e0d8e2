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
 * Proctoring report: the overview of a quiz's attempts, or one attempt with its review.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

require_once(__DIR__ . '/../../../../config.php');

use quizaccess_proctorpy\api;
use mod_quiz\quiz_attempt;
use mod_quiz\quiz_settings;
use quizaccess_proctorpy\image_link;
use quizaccess_proctorpy\local\identity_step;
use quizaccess_proctorpy\local\live_view;
use quizaccess_proctorpy\local\overview_filters;
use quizaccess_proctorpy\local\page_access;
use quizaccess_proctorpy\sidecar_client;
use quizaccess_proctorpy\sidecar_exception;

$cmid = required_param('cmid', PARAM_INT);
$attemptid = optional_param('attempt', 0, PARAM_INT);

[$course, $cm] = get_course_and_cm_from_cmid($cmid, 'quiz');
require_login($course, false, $cm);
$context = page_access::require_report_viewer($cm);

$baseurl = new moodle_url('/mod/quiz/accessrule/proctorpy/report.php', ['cmid' => $cmid]);
$url = $attemptid ? new moodle_url($baseurl, ['attempt' => $attemptid]) : $baseurl;
$PAGE->set_url($url);
$PAGE->set_title(get_string('reporttitle', 'quizaccess_proctorpy', format_string($cm->name)));
$PAGE->set_heading(format_string($course->fullname));
$PAGE->navbar->add(get_string('reporttitle', 'quizaccess_proctorpy', format_string($cm->name)), $baseurl);

$quiz = quiz_settings::create((int) $cm->instance)->get_quiz();
$client = sidecar_client::from_config();
$actor = api::actor((int) $USER->id, fullname($USER));
// Above the overview, its group selector as Moodle's quiz reports show it; the attempt report has none.
$abovereport = '';
$data = [
    'backurl' => $attemptid ? $baseurl->out(false) : (new moodle_url('/mod/quiz/view.php', ['id' => $cmid]))->out(false),
    'sesskey' => sesskey(),
    'actionurl' => $url->out(false),
];

try {
    if ($attemptid) {
        $attempt = page_access::attempt_of_quiz($attemptid, $cm);
        if (optional_param('waiveidentity', 0, PARAM_BOOL)) {
            require_sesskey();
            require_capability('quizaccess/proctorpy:waiveidentitycheck', $context);
            if ($attempt->state !== quiz_attempt::IN_PROGRESS || !identity_step::pending($quiz, $attemptid)) {
                throw new moodle_exception('err_identitystepover', 'quizaccess_proctorpy', $url);
            }
            identity_step::waive($attempt, $context, (int) $USER->id);
            redirect(
                $url,
                get_string('identitywaived', 'quizaccess_proctorpy'),
                null,
                \core\output\notification::NOTIFY_SUCCESS
            );
        }
        $decision = optional_param('identitydecision', '', PARAM_ALPHA);
        if ($decision !== '') {
            require_sesskey();
            require_capability('quizaccess/proctorpy:waiveidentitycheck', $context);
            if (!in_array($decision, ['approve', 'refuse'], true)) {
                throw new moodle_exception('err_identitydecision', 'quizaccess_proctorpy');
            }
            if ($attempt->state !== quiz_attempt::IN_PROGRESS || !identity_step::pending($quiz, $attemptid, $client)) {
                throw new moodle_exception('err_identitystepover', 'quizaccess_proctorpy', $url);
            }
            $photoid = required_param('photoid', PARAM_ALPHANUM);
            if ($decision === 'approve') {
                identity_step::approve($attempt, $context, (int) $USER->id, $photoid, $client, $actor);
            } else {
                identity_step::refuse($attempt, $context, $photoid, $client, $actor);
            }
            redirect(
                $url,
                get_string($decision === 'approve' ? 'identityapproved' : 'identityrefused', 'quizaccess_proctorpy'),
                null,
                \core\output\notification::NOTIFY_SUCCESS
            );
        }
        $imagebase = image_link::base($CFG->wwwroot, $cmid, $attemptid, !empty($CFG->slasharguments));
        $data['identity'] = identity_step::report_state($quiz, $attempt, $context, $client);
        if (!empty($data['identity']['decide'])) {
            $data['identity']['decide']['photourl'] = $imagebase . $data['identity']['decide']['photoid'] . '?size=thumb';
        }
        $conclusion = optional_param('conclusion', '', PARAM_ALPHA);
        if ($conclusion !== '') {
            require_sesskey();
            require_capability('quizaccess/proctorpy:reviewattempt', $context);
            if (!in_array($conclusion, ['accepted', 'rejected'], true)) {
                throw new moodle_exception('err_conclusion', 'quizaccess_proctorpy');
            }
            $client->json('POST', api::review($attemptid), [
                'conclusion' => $conclusion,
                'comment' => optional_param('comment', '', PARAM_TEXT),
                'reviewer_id' => (int) $USER->id,
                'reviewer_name' => fullname($USER),
            ] + $actor);
            redirect($url, get_string('reviewsaved', 'quizaccess_proctorpy'), null, \core\output\notification::NOTIFY_SUCCESS);
        }
        if (optional_param('purge', 0, PARAM_BOOL)) {
            require_sesskey();
            require_capability('quizaccess/proctorpy:deleteimages', $context);
            $client->json('POST', api::purge(), ['attempt_id' => $attemptid, 'dry_run' => false] + $actor);
            redirect(
                $baseurl,
                get_string('attemptpurged', 'quizaccess_proctorpy'),
                null,
                \core\output\notification::NOTIFY_SUCCESS
            );
        }
        $candownload = has_capability('quizaccess/proctorpy:downloadimages', $context);
        // A student recognised in a camshot links to their attempt at this quiz only when the report names them.
        $data['fragment'] = $client->call('GET', api::attempt_report(
            $attemptid,
            $imagebase,
            $actor,
            $candownload,
            page_access::nameable_user_ids($cm),
            core_date::get_user_timezone(),
            $baseurl->out(false) . '&attempt='
        ))->body;
        $data['attempt'] = true;
        $data['canreview'] = has_capability('quizaccess/proctorpy:reviewattempt', $context);
        $data['candelete'] = has_capability('quizaccess/proctorpy:deleteimages', $context);
        if ($candownload) {
            $data['pdfurl'] = (new moodle_url(
                '/mod/quiz/accessrule/proctorpy/download.php',
                ['cmid' => $cmid, 'attempt' => $attemptid, 'what' => 'pdf']
            ))->out(false);
        }
    } else {
        $userids = page_access::listed_user_ids($cm);
        $abovereport = groups_print_activity_menu($cm, $baseurl, true);
        $data['waiting'] = array_map(function ($waiting) use ($baseurl) {
            return [
                'name' => fullname($waiting),
                'since' => userdate($waiting->timestart, get_string('strftimetime', 'langconfig')),
                'url' => (new moodle_url($baseurl, ['attempt' => $waiting->id]))->out(false),
            ];
        }, identity_step::waiting($quiz, $userids));
        $params = [];
        foreach (api::OVERVIEW_PARAMS as $name) {
            $params[$name] = optional_param($name, '', PARAM_TEXT);
        }
        $data['filters'] = overview_filters::context($cmid, $params);
        if ($userids === []) {
            $data['fragment'] = '';
            $abovereport .= $OUTPUT->notification(
                get_string('nostudentstolist', 'quizaccess_proctorpy'),
                \core\output\notification::NOTIFY_INFO
            );
        } else {
            $data['fragment'] = $client->call('GET', api::quiz_attempts(
                (int) $cm->instance,
                'html',
                $params,
                $actor,
                core_date::get_user_timezone(),
                $baseurl->out(false) . '&attempt=',
                $baseurl->out(false) . '&',
                $userids
            ))->body;
            $data['csvurl'] = (new moodle_url(
                '/mod/quiz/accessrule/proctorpy/download.php',
                ['cmid' => $cmid, 'what' => 'csv'] + array_filter($params, 'strlen')
            ))->out(false);
        }
        if (live_view::has_attempts_in_progress((int) $cm->instance)) {
            $data['liveurl'] = (new moodle_url('/mod/quiz/accessrule/proctorpy/live.php', ['cmid' => $cmid]))->out(false);
        }
    }
} catch (sidecar_exception $e) {
    $data['fragment'] = '';
    $data['error'] = get_string('sidecarerror', 'quizaccess_proctorpy', $e->getMessage());
}

echo $OUTPUT->header();
echo $abovereport;
echo $OUTPUT->render_from_template('quizaccess_proctorpy/report', $data);
echo $OUTPUT->footer();
