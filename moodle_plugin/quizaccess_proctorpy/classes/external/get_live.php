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
 * External function: the tiles of the teacher's live view.
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
use quizaccess_proctorpy\local\live_view;
use quizaccess_proctorpy\local\page_access;

/**
 * One attempt in progress per tile, problems first, for a viewer of the quiz's proctoring reports.
 *
 * The live view's page calls it every few seconds. The students are those of the group chosen in the page's
 * group selector, as the overview lists them; a sidecar that does not answer is the `sidecarunavailable` error.
 */
class get_live extends external_api {
    /**
     * Parameters.
     *
     * @return external_function_parameters
     */
    public static function execute_parameters(): external_function_parameters {
        return new external_function_parameters([
            'cmid' => new external_value(PARAM_INT, 'Course module id of the quiz'),
            'flaggedonly' => new external_value(PARAM_BOOL, 'Only the attempts that need attention now', VALUE_DEFAULT, false),
        ]);
    }

    /**
     * The tiles.
     *
     * @param int $cmid course module id of the quiz
     * @param bool $flaggedonly only the attempts with a problem now
     * @return array tiles and summary
     */
    public static function execute(int $cmid, bool $flaggedonly = false): array {
        $params = self::validate_parameters(self::execute_parameters(), compact('cmid', 'flaggedonly'));
        [, $cm] = get_course_and_cm_from_cmid($params['cmid'], 'quiz');
        self::validate_context(\context_module::instance($cm->id));
        page_access::require_report_viewer($cm);
        return forwarding::run(function () use ($cm, $params) {
            return live_view::for_quiz($cm)->export($params['flaggedonly']);
        });
    }

    /**
     * Result.
     *
     * @return external_single_structure
     */
    public static function execute_returns(): external_single_structure {
        return new external_single_structure([
            'tiles' => new external_multiple_structure(new external_single_structure([
                'attemptid' => new external_value(PARAM_INT, 'Quiz attempt id'),
                'userid' => new external_value(PARAM_INT, 'Student\'s user id'),
                'fullname' => new external_value(PARAM_TEXT, 'Student\'s full name'),
                'reporturl' => new external_value(PARAM_URL, 'The attempt\'s proctoring report'),
                'identitywaiting' => new external_value(PARAM_BOOL, 'Whether the student waits at the identity step'),
                'waiveurl' => new external_value(PARAM_URL, 'Where the viewer lets the attempt go on, empty if they may not'),
                'sesskey' => new external_value(PARAM_ALPHANUM, 'The viewer\'s session key for that form, empty without it'),
                'shotid' => new external_value(PARAM_ALPHANUMEXT, 'Latest camshot\'s id, empty when none'),
                'thumburl' => new external_value(PARAM_URL, 'Latest camshot\'s thumbnail, empty when none'),
                'thumbalt' => new external_value(PARAM_TEXT, 'Text alternative of the thumbnail'),
                'verdict' => new external_value(PARAM_ALPHAEXT, 'Latest camshot\'s verdict, empty when none'),
                'verdictlabel' => new external_value(PARAM_TEXT, 'The verdict in words'),
                'verdictproblem' => new external_value(PARAM_BOOL, 'Whether the verdict is a problem with the face'),
                'verdictok' => new external_value(PARAM_BOOL, 'Whether the verdict is face ok'),
                'sinceshot' => new external_value(PARAM_TEXT, 'Time since the latest camshot, in words'),
                'cameraquiet' => new external_value(PARAM_BOOL, 'No camshot for longer than one was due'),
                'leftpage' => new external_value(PARAM_INT, 'Times the student left the page in the last minutes'),
                'leftpagelabel' => new external_value(PARAM_TEXT, 'The same in words, empty when none'),
                'lastevent' => new external_value(PARAM_TEXT, 'Latest focus or tab event, in words, empty when none'),
                'scorelabel' => new external_value(PARAM_TEXT, 'Score so far and threshold, in words'),
                'belowthreshold' => new external_value(PARAM_BOOL, 'Whether the score is below the quiz\'s threshold'),
                'problem' => new external_value(PARAM_BOOL, 'Whether the attempt needs attention now'),
                'problemcodes' => new external_value(PARAM_TEXT, 'Problems, most serious first, separated by spaces'),
                'problems' => new external_multiple_structure(new external_single_structure([
                    'code' => new external_value(PARAM_ALPHAEXT, 'Problem'),
                    'label' => new external_value(PARAM_TEXT, 'The problem in words'),
                ]), 'What is wrong now, most serious first'),
            ]), 'One tile per attempt in progress, problems first'),
            'total' => new external_value(PARAM_INT, 'Attempts in progress the viewer may see'),
            'shown' => new external_value(PARAM_INT, 'Tiles returned'),
            'flagged' => new external_value(PARAM_INT, 'Attempts that need attention now'),
            'flaggedonly' => new external_value(PARAM_BOOL, 'Whether only those were asked for'),
            'summary' => new external_value(PARAM_TEXT, 'Counts in words'),
            'emptymessage' => new external_value(PARAM_TEXT, 'What to say when there is no tile'),
            'updated' => new external_value(PARAM_TEXT, 'When the tiles were read, in words'),
        ]);
    }
}
