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

use quizaccess_proctorpy\api;
use quizaccess_proctorpy\event\identity_check_waived;
use quizaccess_proctorpy\event\identity_photo_approved;
use quizaccess_proctorpy\event\identity_photo_refused;
use quizaccess_proctorpy\sidecar_client;
use quizaccess_proctorpy\sidecar_exception;

/**
 * Whether an attempt is still at its identity step, and how the step ended.
 *
 * A quiz with an identity check shows no question of an attempt until the step is over: the sidecar
 * passed one of its photos, a teacher approved its photo where there was no reference photo to match,
 * or a teacher let it go on. The rule asks for the pre-flight check again
 * while the step lasts, so Moodle's attempt and summary pages and its web services send the student
 * back to it; the browser only takes the photo.
 */
class identity_step {
    /** @var string the sidecar passed a photo */
    const PASSED = 'passed';
    /** @var string a teacher let the attempt go on without a passing photo */
    const WAIVED = 'waived';
    /** @var string a teacher approved the identity photo of an attempt with no reference photo to match */
    const APPROVED = 'approved';
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
     * With no outcome recorded, the sidecar is asked: a pass it recorded while Moodle's request timed out (a busy
     * start) is recorded here then, and does not leave the student waiting for a teacher. A sidecar that does not
     * answer leaves the step pending.
     *
     * @param \stdClass $quiz quiz with its proctorpy_ settings
     * @param int $attemptid quiz attempt id
     * @param sidecar_client|null $client the configured client when null
     * @return bool
     */
    public static function pending(\stdClass $quiz, int $attemptid, ?sidecar_client $client = null): bool {
        global $DB;
        if (!self::required($quiz) || self::not_started($attemptid)) {
            return false;
        }
        if ($DB->record_exists('quizaccess_proctorpy_idcheck', ['attemptid' => $attemptid])) {
            return false;
        }
        $state = self::sidecar_state($attemptid, $client);
        if (!empty($state['passed'])) {
            self::record_pass($attemptid);
            return false;
        }
        return true;
    }

    /**
     * How the attempt's identity stands at the sidecar: passed, its reference, a teacher's decision, its latest photo.
     *
     * @param int $attemptid quiz attempt id
     * @param sidecar_client|null $client the configured client when null
     * @return array|null the sidecar's answer, null when it does not answer or does not know the attempt
     */
    public static function sidecar_state(int $attemptid, ?sidecar_client $client = null): ?array {
        try {
            return ($client ?? sidecar_client::from_config())->json('GET', api::identity($attemptid));
        } catch (sidecar_exception $e) {
            return null;
        }
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
     * Approve the identity photo of an attempt that had no reference photo to match: the sidecar makes it the
     * reference, the step ends, and the decision is logged as an event (the sidecar audits it too).
     *
     * @param \stdClass $attempt row of quiz_attempts, in progress and waiting at its identity step
     * @param \context_module $context the quiz's context
     * @param int $byuserid the teacher
     * @param string $photoid the sidecar's id of the identity photo
     * @param sidecar_client $client the sidecar
     * @param array $actor the teacher for the sidecar's audit log (api::actor)
     * @throws sidecar_exception when the sidecar refuses the decision
     */
    public static function approve(
        \stdClass $attempt,
        \context_module $context,
        int $byuserid,
        string $photoid,
        sidecar_client $client,
        array $actor
    ): void {
        $client->json('POST', api::identity_decision((int) $attempt->id, 'approve'), ['camshot_id' => $photoid] + $actor);
        self::end((int) $attempt->id, self::APPROVED, $byuserid);
        identity_photo_approved::create(self::decision_event($attempt, $context, $photoid))->trigger();
    }

    /**
     * Refuse the identity photo of an attempt that had no reference photo to match: the step stays closed (a
     * teacher may still let the attempt go on), and the decision is logged as an event (the sidecar audits it too).
     *
     * @param \stdClass $attempt row of quiz_attempts, in progress and waiting at its identity step
     * @param \context_module $context the quiz's context
     * @param string $photoid the sidecar's id of the identity photo
     * @param sidecar_client $client the sidecar
     * @param array $actor the teacher for the sidecar's audit log (api::actor)
     * @throws sidecar_exception when the sidecar refuses the decision
     */
    public static function refuse(
        \stdClass $attempt,
        \context_module $context,
        string $photoid,
        sidecar_client $client,
        array $actor
    ): void {
        $client->json('POST', api::identity_decision((int) $attempt->id, 'refuse'), ['camshot_id' => $photoid] + $actor);
        identity_photo_refused::create(self::decision_event($attempt, $context, $photoid))->trigger();
    }

    /**
     * The data of the event of a teacher's decision on an identity photo.
     *
     * @param \stdClass $attempt row of quiz_attempts
     * @param \context_module $context the quiz's context
     * @param string $photoid the sidecar's id of the identity photo
     * @return array
     */
    private static function decision_event(\stdClass $attempt, \context_module $context, string $photoid): array {
        return [
            'context' => $context,
            'objectid' => (int) $attempt->id,
            'relateduserid' => (int) $attempt->userid,
            'other' => ['quizid' => (int) $attempt->quiz, 'photoid' => $photoid],
        ];
    }

    /**
     * End the step once: the unique key on the attempt keeps the first outcome when two arrive together.
     *
     * @param int $attemptid quiz attempt id
     * @param string $outcome passed, waived or approved
     * @param int $waivedby the teacher who waived or approved, 0 for a pass
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
     * @param sidecar_client|null $client the configured client when null
     * @return array|null the sentence, its alert kind, whether the viewer may let the attempt go on, and the
     *     identity photo the viewer may approve or refuse (decide) when there was no reference photo to match
     */
    public static function report_state(
        \stdClass $quiz,
        \stdClass $attempt,
        \context_module $context,
        ?sidecar_client $client = null
    ): ?array {
        global $DB;
        if (!self::required($quiz)) {
            return null;
        }
        $outcome = self::outcome((int) $attempt->id);
        if ($outcome === null && $attempt->state === self::NOT_STARTED) {
            return ['message' => get_string('identitystate_notstarted', 'quizaccess_proctorpy'), 'kind' => 'info'];
        }
        $inprogress = $attempt->state === \mod_quiz\quiz_attempt::IN_PROGRESS;
        if ($outcome === null && $inprogress && !self::pending($quiz, (int) $attempt->id, $client)) {
            $outcome = self::outcome((int) $attempt->id);
        }
        if ($outcome === null) {
            $canwaive = $inprogress && has_capability('quizaccess/proctorpy:waiveidentitycheck', $context);
            $state = [
                'message' => get_string($inprogress ? 'identitystate_pending' : 'identitystate_never', 'quizaccess_proctorpy'),
                'kind' => 'warning',
                'canwaive' => $canwaive,
            ];
            return $inprogress ? self::with_decision($quiz, $attempt, $state, $client) : $state;
        }
        $time = userdate($outcome->timecreated);
        if ($outcome->outcome === self::PASSED) {
            return ['message' => get_string('identitystate_passed', 'quizaccess_proctorpy', $time), 'kind' => 'success'];
        }
        $by = $DB->get_record('user', ['id' => $outcome->waivedby]);
        $string = $outcome->outcome === self::APPROVED ? 'identitystate_approved' : 'identitystate_waived';
        return ['message' => get_string(
            $string,
            'quizaccess_proctorpy',
            ['by' => $by ? fullname($by) : get_string('unknownuser'), 'time' => $time]
        ), 'kind' => 'info'];
    }

    /**
     * A waiting attempt whose face must match but had no reference photo: the teacher sees its identity photo
     * and may approve it or refuse it; after a refusal, the state says so.
     *
     * @param \stdClass $quiz the quiz with its proctorpy_ settings
     * @param \stdClass $attempt id of the attempt
     * @param array $state the pending state report_state made
     * @param sidecar_client|null $client the configured client when null
     * @return array the state, with decide (photoid) when the viewer may decide
     */
    private static function with_decision(\stdClass $quiz, \stdClass $attempt, array $state, ?sidecar_client $client): array {
        if (($quiz->proctorpy_identitycheck ?? '') !== 'match') {
            return $state;
        }
        $sidecar = self::sidecar_state((int) $attempt->id, $client);
        if (!$sidecar || ($sidecar['reference'] ?? '') !== 'none' || empty($sidecar['photo'])) {
            return $state;
        }
        if (($sidecar['decision'] ?? null) === 'refused') {
            $state['message'] = get_string('identitystate_refused', 'quizaccess_proctorpy');
        } else if ($sidecar['photo']['status'] === 'ok' && $state['canwaive']) {
            $state['message'] = get_string('identitystate_noreference', 'quizaccess_proctorpy');
            $state['decide'] = ['photoid' => (string) $sidecar['photo']['id']];
        }
        return $state;
    }
}
