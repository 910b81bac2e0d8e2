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
 * Alerts to a quiz's teachers when an attempt is flagged.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy\local;

use quizaccess_proctorpy\task\alert_flagged_attempt;

/**
 * Sends the `attemptflagged` notification about an attempt whose score fell below its quiz's threshold, once.
 *
 * The sidecar decides what is flagged (its stored score, recomputed with every verdict and event); Moodle
 * learns it from the answer to the end of an attempt, from the live answer the scheduled task asks for while
 * attempts run, and from a later look at an attempt whose camshots were still being analysed when it ended.
 * Each alert is recorded in quizaccess_proctorpy_alert before any message leaves, unique per attempt, so no
 * path and no retry tells a teacher twice.
 */
class flag_alert {
    /** Table of the alerts sent, one row per attempt. */
    const TABLE = 'quizaccess_proctorpy_alert';

    /** Times an ended attempt whose score is not final yet is looked at again. */
    const RECHECKS = 24;

    /** Seconds between those looks: with RECHECKS, two hours for the analysis to catch up. */
    const RECHECK_DELAY = 300;

    /**
     * Whether the quiz notifies its teachers of flagged attempts: proctoring and its alerts are on.
     *
     * @param int $quizid the quiz
     * @return bool
     */
    public static function quiz_alerts(int $quizid): bool {
        global $DB;
        return $DB->record_exists('quizaccess_proctorpy', ['quizid' => $quizid, 'enabled' => 1, 'alerts' => 1]);
    }

    /**
     * Whether an alert about the attempt was sent already.
     *
     * @param int $attemptid quiz attempt id
     * @return bool
     */
    public static function sent(int $attemptid): bool {
        global $DB;
        return $DB->record_exists(self::TABLE, ['attemptid' => $attemptid]);
    }

    /**
     * The sidecar recorded the end of an attempt and answered its score: queue the alert if it is flagged, or a
     * look again later while camshots wait for analysis.
     *
     * The alert is sent by the task, not in the request that submitted the attempt: the student's page never
     * waits for the teachers' messages (email among them), nor shows anything of them.
     *
     * @param int $attemptid quiz attempt id
     * @param int $quizid its quiz
     * @param array $answer the sidecar's answer to POST /api/v1/attempts/<id>/finish
     */
    public static function attempt_ended(int $attemptid, int $quizid, array $answer): void {
        $score = $answer['score'] ?? null;
        if (!is_array($score) || !self::quiz_alerts($quizid)) {
            return;
        }
        if (!empty($score['flagged'])) {
            alert_flagged_attempt::queue($attemptid, ['value' => self::number($score['value'] ?? null),
                'threshold' => self::number($score['threshold'] ?? null)]);
        } else if (empty($score['final'])) {
            alert_flagged_attempt::queue($attemptid, null, self::RECHECKS, self::RECHECK_DELAY);
        }
    }

    /**
     * Act on the score the sidecar stores for an attempt (GET /api/v1/attempts/<id>): alert when it is flagged.
     *
     * @param int $attemptid quiz attempt id
     * @param array|null $score the answer's `score` (value, flagged, metrics), null when not scored yet
     * @return bool whether the score is final: no later look can change it
     */
    public static function stored_score(int $attemptid, ?array $score): bool {
        if ($score && !empty($score['flagged'])) {
            self::send(
                $attemptid,
                self::number($score['value'] ?? null),
                self::number($score['metrics']['threshold'] ?? null)
            );
            return true;
        }
        return !empty($score['metrics']['final']);
    }

    /**
     * Notify the quiz's report viewers of a flagged attempt, unless they were told already or the quiz
     * no longer alerts.
     *
     * @param int $attemptid quiz attempt id
     * @param float|null $score the attempt's score
     * @param float|null $threshold the threshold it fell below, the quiz's current one when null
     * @return int how many users were notified
     */
    public static function send(int $attemptid, ?float $score, ?float $threshold = null): int {
        global $DB;
        $attempt = $DB->get_record('quiz_attempts', ['id' => $attemptid], 'id, quiz, userid');
        if (!$attempt || !self::quiz_alerts((int) $attempt->quiz) || self::sent($attemptid)) {
            return 0;
        }
        try {
            $alertid = $DB->insert_record(
                self::TABLE,
                ['attemptid' => $attemptid, 'score' => $score, 'recipients' => 0, 'timecreated' => time()]
            );
        } catch (\dml_write_exception $e) {
            // Another path recorded it a moment ago, and sends it.
            return 0;
        }
        $cm = get_coursemodule_from_instance('quiz', $attempt->quiz, 0, false, MUST_EXIST);
        $context = \context_module::instance($cm->id);
        $quiz = $DB->get_record('quiz', ['id' => $attempt->quiz], 'id, name, course', MUST_EXIST);
        if ($threshold === null) {
            $threshold = (float) $DB->get_field('quizaccess_proctorpy', 'threshold', ['quizid' => $quiz->id]);
        }
        $student = \core_user::get_user($attempt->userid, '*', MUST_EXIST);
        $course = get_course($quiz->course);
        $url = new \moodle_url('/mod/quiz/accessrule/proctorpy/report.php', ['cmid' => $cm->id, 'attempt' => $attemptid]);
        $a = (object) [
            'student' => fullname($student),
            'quiz' => format_string($quiz->name, true, ['context' => $context]),
            'course' => format_string($course->fullname, true, ['context' => \context_course::instance($course->id)]),
            'score' => $score === null ? '-' : format_float($score, 1),
            'threshold' => format_float($threshold, 0),
            'url' => $url->out(false),
        ];
        $html = (object) array_map('s', (array) $a);
        $count = 0;
        foreach (self::recipients($cm, $context, (int) $attempt->userid) as $recipient) {
            $message = new \core\message\message();
            $message->component = 'quizaccess_proctorpy';
            $message->name = 'attemptflagged';
            $message->notification = 1;
            $message->courseid = $course->id;
            $message->userfrom = \core_user::get_noreply_user();
            $message->userto = $recipient;
            $message->subject = get_string('alertsubject', 'quizaccess_proctorpy', $a);
            $message->fullmessage = get_string('alertbody', 'quizaccess_proctorpy', $a);
            $message->fullmessageformat = FORMAT_PLAIN;
            $message->fullmessagehtml = get_string('alertbodyhtml', 'quizaccess_proctorpy', $html);
            $message->smallmessage = get_string('alertsmall', 'quizaccess_proctorpy', $a);
            $message->contexturl = $a->url;
            $message->contexturlname = get_string('alertlink', 'quizaccess_proctorpy');
            $message->customdata = ['cmid' => $cm->id, 'instance' => $quiz->id, 'attemptid' => $attemptid];
            if (message_send($message)) {
                $count++;
            }
        }
        $DB->set_field(self::TABLE, 'recipients', $count, ['id' => $alertid]);
        return $count;
    }

    /**
     * Who hears of a student's flagged attempt: the users who may view the quiz's proctoring reports, and in a
     * quiz with groups only those in one of the student's groups, or who may access all groups, as Moodle's own
     * quiz notifications choose them.
     *
     * @param \stdClass $cm the quiz's course module
     * @param \context_module $context its context
     * @param int $studentid the attempt's student
     * @return \stdClass[] users
     */
    public static function recipients(\stdClass $cm, \context_module $context, int $studentid): array {
        $groups = groups_get_all_groups($cm->course, $studentid, $cm->groupingid, 'g.id');
        if ($groups) {
            $groups = array_keys($groups);
        } else if (groups_get_activity_groupmode($cm) != NOGROUPS) {
            // A student in no group: only those who may access all groups.
            $groups = -1;
        } else {
            $groups = '';
        }
        return get_users_by_capability(
            $context,
            'quizaccess/proctorpy:viewreport',
            'u.*',
            'u.id',
            '',
            '',
            $groups,
            $studentid,
            false,
            false,
            true
        );
    }

    /**
     * Forget the alerts about attempts that no longer exist (a quiz or course deleted with its attempts).
     */
    public static function forget_deleted_attempts(): void {
        global $DB;
        $DB->delete_records_select(self::TABLE, 'NOT EXISTS (SELECT 1 FROM {quiz_attempts} qa WHERE qa.id = attemptid)');
    }

    /**
     * A number from the sidecar's JSON, null when absent.
     *
     * @param mixed $value the value
     * @return float|null
     */
    private static function number($value): ?float {
        return is_numeric($value) ? (float) $value : null;
    }
}
