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
 * External functions the capture module and the live view call, and the reports' for other tools.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

defined('MOODLE_INTERNAL') || die();

$functions = [
    'quizaccess_proctorpy_upload_camshot' => [
        'classname' => 'quizaccess_proctorpy\external\upload_camshot',
        'description' => 'Forward one camshot of the current user\'s attempt to the sidecar.',
        'type' => 'write',
        'ajax' => true,
        'loginrequired' => true,
    ],
    'quizaccess_proctorpy_send_event' => [
        'classname' => 'quizaccess_proctorpy\external\send_event',
        'description' => 'Forward one browser event (focus, tab, camera) of the current user\'s attempt to the sidecar.',
        'type' => 'write',
        'ajax' => true,
        'loginrequired' => true,
    ],
    'quizaccess_proctorpy_check_identity' => [
        'classname' => 'quizaccess_proctorpy\external\check_identity',
        'description' => 'Check the frames taken while the current user followed the identity challenge of their attempt.',
        'type' => 'write',
        'ajax' => true,
        'loginrequired' => true,
    ],
    'quizaccess_proctorpy_get_identity_challenge' => [
        'classname' => 'quizaccess_proctorpy\external\get_identity_challenge',
        'description' => 'Draw the liveness challenge the current user follows at the identity check of their attempt.',
        'type' => 'write',
        'ajax' => true,
        'loginrequired' => true,
    ],
    'quizaccess_proctorpy_get_live' => [
        'classname' => 'quizaccess_proctorpy\external\get_live',
        'description' => 'The live view of a quiz: its attempts in progress with their latest camshot, verdict, events '
            . 'and score so far, problems first.',
        'type' => 'read',
        'ajax' => true,
        'loginrequired' => true,
        'capabilities' => 'quizaccess/proctorpy:viewreport',
    ],
    'quizaccess_proctorpy_get_overview' => [
        'classname' => 'quizaccess_proctorpy\external\get_overview',
        'description' => 'A proctored quiz\'s attempts with their metrics, score, flag and review, as the proctoring '
            . 'report\'s overview lists them.',
        'type' => 'read',
        'ajax' => true,
        'capabilities' => 'quizaccess/proctorpy:viewreport',
    ],
    'quizaccess_proctorpy_get_attempt_report' => [
        'classname' => 'quizaccess_proctorpy\external\get_attempt_report',
        'description' => 'One proctored attempt: score and how it was computed, metrics, events, camshots with their '
            . 'verdicts and image URLs, review.',
        'type' => 'read',
        'ajax' => true,
        'capabilities' => 'quizaccess/proctorpy:viewreport',
    ],
];

$services = [
    // For other tools: a site admin enables it and issues tokens to users who may view proctoring reports.
    'Proctoring reports (proctorpy)' => [
        'functions' => ['quizaccess_proctorpy_get_overview', 'quizaccess_proctorpy_get_attempt_report'],
        'shortname' => 'quizaccess_proctorpy_reports',
        'restrictedusers' => 0,
        'enabled' => 0,
        'downloadfiles' => 1,
    ],
];
