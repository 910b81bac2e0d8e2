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
 * External function: a proctored quiz's overview.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy\external;

use core_external\external_api;
use core_external\external_function_parameters;
use core_external\external_multiple_structure;
use core_external\external_single_structure;
use core_external\external_value;
use quizaccess_proctorpy\api;
use quizaccess_proctorpy\local\page_access;
use quizaccess_proctorpy\sidecar_client;

/**
 * A quiz's attempts with their metrics, score, flag and review, as the report's overview lists them, for the
 * students the caller may see.
 */
class get_overview extends external_api {
    /**
     * Parameters.
     *
     * @return external_function_parameters
     */
    public static function execute_parameters(): external_function_parameters {
        return new external_function_parameters([
            'cmid' => new external_value(PARAM_INT, 'Course module id of the quiz'),
            'groupid' => new external_value(PARAM_INT, 'Only the members of this group; 0 for every student the caller '
                . 'may see', VALUE_DEFAULT, 0),
        ]);
    }

    /**
     * The overview.
     *
     * @param int $cmid course module id of the quiz
     * @param int $groupid group, 0 for none
     * @return array
     */
    public static function execute(int $cmid, int $groupid = 0): array {
        $params = self::validate_parameters(self::execute_parameters(), compact('cmid', 'groupid'));
        [$course, $cm] = get_course_and_cm_from_cmid($params['cmid'], 'quiz');
        $context = \context_module::instance($cm->id);
        self::validate_context($context);
        require_capability('quizaccess/proctorpy:viewreport', $context);
        $userids = page_access::group_user_ids($cm, $params['groupid']);
        $rows = [];
        if ($userids !== []) {
            $answer = forwarding::run(function () use ($cm, $userids) {
                global $USER;
                return sidecar_client::from_config()->json('GET', api::quiz_attempts(
                    (int) $cm->instance,
                    'json',
                    [],
                    api::actor((int) $USER->id, fullname($USER)),
                    \core_date::get_user_timezone(),
                    '',
                    '',
                    $userids
                ));
            });
            $rows = $answer['attempts'] ?? [];
        }
        $attempts = [];
        foreach ($rows as $row) {
            $attempts[] = self::attempt($row, (int) $cm->id);
        }
        return ['quizid' => (int) $cm->instance, 'cmid' => (int) $cm->id, 'groupid' => $params['groupid'],
            'attempts' => $attempts];
    }

    /**
     * One row of the overview in the function's terms.
     *
     * @param array $row a row of the sidecar's overview
     * @param int $cmid course module id, for the report's address
     * @return array
     */
    private static function attempt(array $row, int $cmid): array {
        $metrics = [];
        foreach ((array) ($row['percent'] ?? []) as $name => $percent) {
            $metrics[] = ['name' => (string) $name, 'percent' => (float) $percent];
        }
        return [
            'attemptid' => (int) $row['attempt_id'],
            'userid' => (int) $row['user_id'],
            'student' => (string) ($row['student'] ?? ''),
            'startedat' => (int) $row['started_at'],
            'finishedat' => isset($row['finished_at']) ? (int) $row['finished_at'] : null,
            'durationseconds' => isset($row['duration_seconds']) ? (float) $row['duration_seconds'] : null,
            'shots' => (int) ($row['shots'] ?? 0),
            'events' => (int) ($row['events'] ?? 0),
            'metrics' => $metrics,
            'score' => isset($row['score']) ? (float) $row['score'] : null,
            'flagged' => !empty($row['flagged']),
            'scorenote' => (string) ($row['score_note'] ?? ''),
            'review' => (string) ($row['review'] ?? ''),
            'reviewer' => (string) ($row['reviewer'] ?? ''),
            'reporturl' => (new \moodle_url(
                '/mod/quiz/accessrule/proctorpy/report.php',
                ['cmid' => $cmid, 'attempt' => (int) $row['attempt_id']]
            ))->out(false),
        ];
    }

    /**
     * Result.
     *
     * @return external_single_structure
     */
    public static function execute_returns(): external_single_structure {
        return new external_single_structure([
            'quizid' => new external_value(PARAM_INT, 'Quiz id'),
            'cmid' => new external_value(PARAM_INT, 'Course module id of the quiz'),
            'groupid' => new external_value(PARAM_INT, 'The group asked for, 0 for none'),
            'attempts' => new external_multiple_structure(self::attempt_structure(), 'Attempts, lowest score first'),
        ]);
    }

    /**
     * One attempt of the overview.
     *
     * @return external_single_structure
     */
    public static function attempt_structure(): external_single_structure {
        return new external_single_structure([
            'attemptid' => new external_value(PARAM_INT, 'Quiz attempt id'),
            'userid' => new external_value(PARAM_INT, 'The student'),
            'student' => new external_value(PARAM_TEXT, 'The student\'s full name when the attempt started'),
            'startedat' => new external_value(PARAM_INT, 'Start, unix seconds'),
            'finishedat' => new external_value(
                PARAM_INT,
                'End, unix seconds; null while in progress',
                VALUE_REQUIRED,
                null,
                NULL_ALLOWED
            ),
            'durationseconds' => new external_value(
                PARAM_FLOAT,
                'Duration scored, seconds; null before the first score',
                VALUE_REQUIRED,
                null,
                NULL_ALLOWED
            ),
            'shots' => new external_value(PARAM_INT, 'Camshots taken during the attempt'),
            'events' => new external_value(PARAM_INT, 'Browser events'),
            'metrics' => new external_multiple_structure(new external_single_structure([
                'name' => new external_value(PARAM_ALPHANUMEXT, 'Metric: no_face, multiple_faces, mismatch, substitution, '
                    . 'camera_off or focus_lost'),
                'percent' => new external_value(PARAM_FLOAT, 'Share of the attempt\'s time in violation, percent'),
            ]), 'Per metric, the share of time in violation; empty before the first score'),
            'score' => new external_value(
                PARAM_FLOAT,
                'Credibility score 0 to 100; null when not scored (yet)',
                VALUE_REQUIRED,
                null,
                NULL_ALLOWED
            ),
            'flagged' => new external_value(PARAM_BOOL, 'Whether the score is below the quiz\'s threshold'),
            'scorenote' => new external_value(PARAM_TEXT, 'Why there is no score, if there is none'),
            'review' => new external_value(PARAM_ALPHA, 'Review conclusion: accepted, rejected, or empty for none'),
            'reviewer' => new external_value(PARAM_TEXT, 'Who reviewed it'),
            'reporturl' => new external_value(PARAM_URL, 'The attempt\'s proctoring report in Moodle'),
        ]);
    }
}
