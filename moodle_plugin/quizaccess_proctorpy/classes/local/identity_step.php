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
 * The identity step at the start of an attempt, decided on the server.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy\local;

use quizaccess_proctorpy\event\identity_check_waived;

/**
 * Whether an attempt is still at its identity step, and how the step ended.
 *
 * A quiz with an identity check shows no question of an attempt until the step is over: the sidecar
 * passed one of its photos, or a teacher let it go on. The rule asks for the pre-flight check again
 * while the step lasts, so Moodle's attempt and summary pages and its web services send the student
 * back to it; the browser only takes the photo.
 */
class identity_step {
    /** @var string the sidecar passed a photo */
    const PASSED = 'passed';
    /** @var string a teacher let the attempt go on without a passing photo */
    const WAIVED = 'waived';
    /** @var string state of an attempt Moodle 5.0+ created ahead of the quiz (quiz_attempt::NOT_STARTED, absent in 4.5) */
    const NOT_STARTED = 'notstarted';

    /**
     * Whether the quiz checks identity at the start of its attempts.
     *
     * @param \stdClass $quiz quiz with its proctorpy_ settings
     * @return bool
     */
    public static function required(\stdClass $quiz): bool {
        return ($quiz->proctorpy_identitycheck ?? 'none') !== 'none';
    }

    /**
     * How the attempt's identity step ended, or null while it lasts.
     *
     * @param int $attemptid quiz attempt id
     * @return \stdClass|null row of quizaccess_proctorpy_idcheck
     */
    public static function outcome(int $attemptid): ?\stdClass {
        global $DB;
        return $DB->get_record('quizaccess_proctorpy_idcheck', ['attemptid' => $attemptid]) ?: null;
    }

    /**
     * Whether the attempt of this quiz still waits at its identity step.
     *
     * The step begins when the attempt starts. Moodle 5.0+ may create attempts ahead of the quiz (its
     * precreate setting): such an attempt is not started, the sidecar has not heard of it and no photo could
     * pass for it, so the student gives consent and shows the camera first, starts it, and meets the step then.
     *
     * @param \stdClass $quiz quiz with its proctorpy_ settings
     * @param int $attemptid quiz attempt id
     * @return bool
     */
    public static function pending(\stdClass $quiz, int $attemptid): bool {
        global $DB;
        if (!self::required($quiz) || self::not_started($attemptid)) {
            return false;
        }
        return !$DB->record_exists('quizaccess_proctorpy_idcheck', ['attemptid' => $attemptid]);
    }

    /**
     * Whether the attempt was created ahead of the quiz and has not started yet (Moodle 5.0+).
     *
     * @param int $attemptid quiz attempt id
     * @return bool
     */
    public static function not_started(int $attemptid): bool {
        global $DB;
        return $DB->get_field('quiz_attempts', 'state', ['id' => $attemptid]) === self::NOT_STARTED;
    }

    /**
     * Record that the sidecar passed a photo of the attempt (a second pass changes nothing).
     *
     * @param int $attemptid quiz attempt id
     */
    public static function record_pass(int $attemptid): void {
        self::end($attemptid, self::PASSED, 0);
    }

    /**
     * Let an attempt go on whose identity check did not pass; logged as an event.
     *
     * @param \stdClass $attempt row of quiz_attempts, in progress and waiting at its identity step
     * @param \context_module $context the quiz's context
     * @param int $byuserid the teacher
     * @return bool whether this call ended the step (false: it had already ended)
     */
    public static function waive(\stdClass $attempt, \context_module $context, int $byuserid): bool {
        if (!self::end((int) $attempt->id, self::WAIVED, $byuserid)) {
            return false;
        }
        identity_check_waived::create([
            'context' => $context,
            'objectid' => (int) $attempt->id,
            'relateduserid' => (int) $attempt->userid,
            'other' => ['quizid' => (int) $attempt->quiz],
        ])->trigger();
        return true;
    }

    /**
     * End the step once: the unique key on the attempt keeps the first outcome when two arrive together.
     *
     * @param int $attemptid quiz attempt id
     * @param string $outcome passed or waived
     * @param int $waivedby the teacher, 0 for a pass
     * @return bool whether this call ended it
     */
    private static function end(int $attemptid, string $outcome, int $waivedby): bool {
        global $DB;
        if ($DB->record_exists('quizaccess_proctorpy_idcheck', ['attemptid' => $attemptid])) {
            return false;
        }
        try {
            $DB->insert_record(
                'quizaccess_proctorpy_idcheck',
                ['attemptid' => $attemptid, 'outcome' => $outcome, 'waivedby' => $waivedby, 'timecreated' => time()]
            );
        } catch (\dml_write_exception $e) {
            return false;
        }
        return true;
    }

    /**
     * Attempts in progress of this quiz still at their identity step, oldest first, for these users.
     *
     * @param \stdClass $quiz quiz with its proctorpy_ settings
     * @param int[]|null $userids the users the viewer may see, null for all
     * @return \stdClass[] attempt id, user id, start time and the user's name fields
     */
    public static function waiting(\stdClass $quiz, ?array $userids): array {
        global $DB;
        if (!self::required($quiz) || $userids === []) {
            return [];
        }
        $userfields = \core_user\fields::for_name()->get_sql('u', false, '', '', false)->selects;
        $params = ['quizid' => $quiz->id, 'inprogress' => \mod_quiz\quiz_attempt::IN_PROGRESS];
        $usersql = '';
        if ($userids !== null) {
            [$insql, $inparams] = $DB->get_in_or_equal($userids, SQL_PARAMS_NAMED, 'user');
            $usersql = "AND qa.userid $insql";
            $params += $inparams;
        }
        return array_values($DB->get_records_sql(
            "SELECT qa.id, qa.userid, qa.timestart, $userfields
               FROM {quiz_attempts} qa
               JOIN {user} u ON u.id = qa.userid
          LEFT JOIN {quizaccess_proctorpy_idcheck} ic ON ic.attemptid = qa.id
              WHERE qa.quiz = :quizid AND qa.state = :inprogress AND qa.preview = 0 AND ic.id IS NULL $usersql
           ORDER BY qa.timestart, qa.id",
            $params
        ));
    }

    /**
     * How the attempt's identity step stands, for its report; null when the quiz has no identity check.
     *
     * @param \stdClass $quiz the quiz with its proctorpy_ settings
     * @param \stdClass $attempt id, userid and state of the attempt
     * @param \context_module $context the quiz's context
     * @return array|null the sentence, its alert kind, and whether the viewer may let the attempt go on
     */
    public static function report_state(\stdClass $quiz, \stdClass $attempt, \context_module $context): ?array {
        global $DB;
        if (!self::required($quiz)) {
            return null;
        }
        $outcome = self::outcome((int) $attempt->id);
        if ($outcome === null && $attempt->state === self::NOT_STARTED) {
            return ['message' => get_string('identitystate_notstarted', 'quizaccess_proctorpy'), 'kind' => 'info'];
        }
        if ($outcome === null) {
            $inprogress = $attempt->state === \mod_quiz\quiz_attempt::IN_PROGRESS;
            return [
                'message' => get_string($inprogress ? 'identitystate_pending' : 'identitystate_never', 'quizaccess_proctorpy'),
                'kind' => 'warning',
                'canwaive' => $inprogress && has_capability('quizaccess/proctorpy:waiveidentitycheck', $context),
            ];
        }
        $time = userdate($outcome->timecreated);
        if ($outcome->outcome === self::PASSED) {
            return ['message' => get_string('identitystate_passed', 'quizaccess_proctorpy', $time), 'kind' => 'success'];
        }
        $by = $DB->get_record('user', ['id' => $outcome->waivedby]);
        return ['message' => get_string(
            'identitystate_waived',
            'quizaccess_proctorpy',
            ['by' => $by ? fullname($by) : get_string('unknownuser'), 'time' => $time]
        ), 'kind' => 'info'];
    }
}
