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
 * External function: one proctored attempt's report.
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
use quizaccess_proctorpy\local\image_proxy;
use quizaccess_proctorpy\local\page_access;
use quizaccess_proctorpy\sidecar_client;

/**
 * One attempt as its report shows it: score and how it was computed, metrics, events, camshots with their
 * verdicts, reference photos, review. Images are addressed through Moodle's pluginfile, which asks for the
 * same capabilities as the report: thumbnails for report viewers, full size for those who may download images.
 */
class get_attempt_report extends external_api {
    /**
     * Parameters.
     *
     * @return external_function_parameters
     */
    public static function execute_parameters(): external_function_parameters {
        return new external_function_parameters([
            'cmid' => new external_value(PARAM_INT, 'Course module id of the quiz'),
            'attemptid' => new external_value(PARAM_INT, 'Quiz attempt id'),
        ]);
    }

    /**
     * The report.
     *
     * @param int $cmid course module id of the quiz
     * @param int $attemptid quiz attempt id
     * @return array
     */
    public static function execute(int $cmid, int $attemptid): array {
        $params = self::validate_parameters(self::execute_parameters(), compact('cmid', 'attemptid'));
        [$course, $cm] = get_course_and_cm_from_cmid($params['cmid'], 'quiz');
        $context = \context_module::instance($cm->id);
        self::validate_context($context);
        require_capability('quizaccess/proctorpy:viewreport', $context);
        $attempt = page_access::attempt_of_quiz($params['attemptid'], $cm);
        $fullsize = has_capability('quizaccess/proctorpy:downloadimages', $context);
        $detail = forwarding::run(function () use ($attempt) {
            global $USER;
            // The sidecar audits this read as a report view: the answer goes to a person.
            return sidecar_client::from_config()->json('GET', api::with_query(
                api::attempt((int) $attempt->id),
                api::actor((int) $USER->id, fullname($USER)) + ['view' => 'report']
            ));
        });
        $image = function (string $id) use ($context, $attempt, $fullsize): array {
            return [
                'thumburl' => image_proxy::webservice_url($context, (int) $attempt->id, $id, true),
                'imageurl' => $fullsize ? image_proxy::webservice_url($context, (int) $attempt->id, $id, false) : '',
            ];
        };
        // Another student recognised is given only to a caller who may see them.
        $nameable = page_access::nameable_user_ids($cm);
        $camshots = [];
        foreach ($detail['shots'] ?? [] as $shot) {
            $matched = isset($shot['matched_user_id']) ? (int) $shot['matched_user_id'] : null;
            $camshots[] = [
                'id' => (string) $shot['id'],
                'takenat' => (int) $shot['taken_at'],
                'kind' => (string) $shot['kind'],
                'status' => (string) $shot['status'],
                // As the report and the score read it: another student of the quiz on camera outweighs the status.
                'verdict' => $matched !== null ? 'substitution' : (string) $shot['status'],
                'faces' => isset($shot['faces']) ? (int) $shot['faces'] : null,
                'distance' => isset($shot['distance']) ? (float) $shot['distance'] : null,
                'matcheduserid' => $nameable === null || in_array($matched, $nameable, true) ? $matched : null,
            ] + $image((string) $shot['id']);
        }
        $references = [];
        foreach ($detail['references'] ?? [] as $reference) {
            $references[] = [
                'id' => (string) $reference['id'],
                'source' => (string) ($reference['source'] ?? ''),
                'role' => (string) ($reference['role'] ?? ''),
            ] + $image((string) $reference['id']);
        }
        $events = [];
        foreach ($detail['events'] ?? [] as $event) {
            $events[] = ['id' => (int) $event['id'], 'type' => (string) $event['type'], 'at' => (int) $event['at']];
        }
        $review = $detail['review'] ?? null;
        return [
            'attempt' => [
                'attemptid' => (int) $attempt->id,
                'userid' => (int) $attempt->userid,
                'student' => (string) ($detail['attempt']['user_fullname'] ?? ''),
                'state' => (string) $attempt->state,
                'startedat' => (int) ($detail['attempt']['started_at'] ?? 0),
                'finishedat' => isset($detail['attempt']['finished_at']) ? (int) $detail['attempt']['finished_at'] : null,
                'reporturl' => (new \moodle_url(
                    '/mod/quiz/accessrule/proctorpy/report.php',
                    ['cmid' => $cm->id, 'attempt' => $attempt->id]
                ))->out(false),
            ],
            'score' => self::score($detail['score'] ?? null),
            'events' => $events,
            'camshots' => $camshots,
            'references' => $references,
            'review' => [
                'conclusion' => (string) ($review['conclusion'] ?? ''),
                'comment' => (string) ($review['comment'] ?? ''),
                'reviewer' => (string) ($review['reviewer_name'] ?? ''),
                'reviewedat' => isset($review['reviewed_at']) ? (int) $review['reviewed_at'] : null,
            ],
        ];
    }

    /**
     * The stored score in the function's terms.
     *
     * @param array|null $score the sidecar's score (value, flagged, metrics), null when not scored yet
     * @return array
     */
    private static function score(?array $score): array {
        $metrics = (array) ($score['metrics'] ?? []);
        $rows = [];
        foreach ((array) ($metrics['percent'] ?? []) as $name => $percent) {
            $rows[] = [
                'name' => (string) $name,
                'seconds' => (float) ($metrics['seconds'][$name] ?? 0),
                'percent' => (float) $percent,
                'weight' => (float) ($metrics['weights'][$name] ?? 0),
            ];
        }
        return [
            'scored' => $score !== null,
            'value' => isset($score['value']) ? (float) $score['value'] : null,
            'flagged' => !empty($score['flagged']),
            'threshold' => isset($metrics['threshold']) ? (float) $metrics['threshold'] : null,
            'durationseconds' => isset($metrics['duration_seconds']) ? (float) $metrics['duration_seconds'] : null,
            'formula' => isset($metrics['formula']) ? (string) $metrics['formula'] : null,
            'reason' => isset($metrics['reason']) ? (string) $metrics['reason'] : null,
            'final' => !empty($metrics['final']),
            'metrics' => $rows,
        ];
    }

    /**
     * Result.
     *
     * @return external_single_structure
     */
    public static function execute_returns(): external_single_structure {
        $nullable = function (string $type, string $description): external_value {
            return new external_value($type, $description, VALUE_REQUIRED, null, NULL_ALLOWED);
        };
        $image = [
            'thumburl' => new external_value(PARAM_URL, 'Thumbnail, through webservice/pluginfile.php (add the token)'),
            'imageurl' => new external_value(PARAM_RAW, 'Full size, through webservice/pluginfile.php (add the token); '
                . 'empty for a caller without quizaccess/proctorpy:downloadimages'),
        ];
        return new external_single_structure([
            'attempt' => new external_single_structure([
                'attemptid' => new external_value(PARAM_INT, 'Quiz attempt id'),
                'userid' => new external_value(PARAM_INT, 'The student'),
                'student' => new external_value(PARAM_TEXT, 'The student\'s full name when the attempt started'),
                'state' => new external_value(PARAM_ALPHA, 'Moodle\'s state of the attempt: inprogress, overdue, finished, '
                    . 'abandoned; on Moodle 5.0+ also submitted, between its submission and its grading'),
                'startedat' => new external_value(PARAM_INT, 'Start, unix seconds'),
                'finishedat' => $nullable(PARAM_INT, 'End, unix seconds; null while in progress'),
                'reporturl' => new external_value(PARAM_URL, 'The attempt\'s proctoring report in Moodle'),
            ]),
            'score' => new external_single_structure([
                'scored' => new external_value(PARAM_BOOL, 'Whether the sidecar has scored the attempt'),
                'value' => $nullable(PARAM_FLOAT, 'Credibility score 0 to 100; null when not scored (too short, or not yet)'),
                'flagged' => new external_value(PARAM_BOOL, 'Whether the score is below the threshold'),
                'threshold' => $nullable(PARAM_FLOAT, 'The quiz\'s threshold when the attempt started'),
                'durationseconds' => $nullable(PARAM_FLOAT, 'Duration scored, seconds'),
                'formula' => $nullable(PARAM_TEXT, 'The formula with the attempt\'s own numbers'),
                'reason' => $nullable(PARAM_TEXT, 'Why there is no score, if there is none'),
                'final' => new external_value(PARAM_BOOL, 'Ended, and every camshot analysed: the score will not change'),
                'metrics' => new external_multiple_structure(new external_single_structure([
                    'name' => new external_value(PARAM_ALPHANUMEXT, 'Metric: no_face, multiple_faces, mismatch, '
                        . 'substitution, camera_off or focus_lost'),
                    'seconds' => new external_value(PARAM_FLOAT, 'Time in violation, seconds'),
                    'percent' => new external_value(PARAM_FLOAT, 'Share of the attempt\'s time in violation, percent'),
                    'weight' => new external_value(PARAM_FLOAT, 'Weight in the score'),
                ])),
            ]),
            'events' => new external_multiple_structure(new external_single_structure([
                'id' => new external_value(PARAM_INT, 'Event id'),
                'type' => new external_value(PARAM_ALPHANUMEXT, 'focus_lost, focus_back, tab_hidden, tab_visible, '
                    . 'camera_lost, camera_back, fullscreen_exit, upload_failed, upload_back or direct_fallback'),
                'at' => new external_value(PARAM_INT, 'When, unix milliseconds (the browser\'s clock)'),
            ])),
            'camshots' => new external_multiple_structure(new external_single_structure([
                'id' => new external_value(PARAM_ALPHANUMEXT, 'Camshot id'),
                'takenat' => new external_value(PARAM_INT, 'When, unix milliseconds (the browser\'s clock)'),
                'kind' => new external_value(PARAM_ALPHA, 'attempt, or identity for the photo of the identity check'),
                'status' => new external_value(PARAM_ALPHAEXT, 'Analysis: pending, ok, no_face, multiple_faces, mismatch '
                    . 'or unreadable'),
                'verdict' => new external_value(PARAM_ALPHAEXT, 'The status, or substitution when another student of '
                    . 'the quiz was recognised'),
                'faces' => $nullable(PARAM_INT, 'Faces found; null before analysis'),
                'distance' => $nullable(PARAM_FLOAT, 'Face distance to the student\'s reference photos'),
                'matcheduserid' => $nullable(PARAM_INT, 'The other student recognised, if any and the caller may see them'),
            ] + $image)),
            'references' => new external_multiple_structure(new external_single_structure([
                'id' => new external_value(PARAM_ALPHANUMEXT, 'Photo id'),
                'source' => new external_value(PARAM_ALPHANUMEXT, 'profile (the Moodle profile picture) or identity'),
                'role' => new external_value(PARAM_ALPHANUMEXT, 'judged_against (the photo frozen with the attempt that '
                    . 'its photos are compared with), profile_today (the profile picture today) or identity'),
            ] + $image)),
            'review' => new external_single_structure([
                'conclusion' => new external_value(PARAM_ALPHA, 'accepted, rejected, or empty for none'),
                'comment' => new external_value(PARAM_TEXT, 'The reviewer\'s comment'),
                'reviewer' => new external_value(PARAM_TEXT, 'Who reviewed it'),
                'reviewedat' => $nullable(PARAM_INT, 'When, unix seconds'),
            ]),
        ]);
    }
}
