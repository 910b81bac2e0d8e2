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
 * Event observers: attempts starting and ending, deletions.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy;

use quizaccess_proctorpy\local\flag_alert;
use quizaccess_proctorpy\local\proctored_attempt;
use quizaccess_proctorpy\task\alert_flagged_attempt;
use quizaccess_proctorpy\task\sidecar_call;

/**
 * Tells the sidecar about attempts and deletions. Nothing here may break the Moodle action that
 * raised the event: the end of an attempt is sent at once and queued as a task only when the
 * sidecar cannot take it now, purges are queued, and registration failures are repaired when the
 * first camshot arrives.
 */
class observer {
    /** Seconds the observers wait for the sidecar: they run inside the student's or teacher's request. */
    const TIMEOUT = 3;

    /**
     * Register a proctored attempt as soon as it starts.
     *
     * @param \mod_quiz\event\attempt_started $event the event
     */
    public static function attempt_started(\mod_quiz\event\attempt_started $event): void {
        try {
            $proctored = proctored_attempt::load($event->objectid, sidecar_client::from_config(self::TIMEOUT));
            if (proctoring_settings::is_enabled($proctored->quiz_settings()->get_quiz()) && !$proctored->is_exempt()) {
                $proctored->register();
            }
        } catch (sidecar_exception $e) {
            debugging('proctorpy: attempt ' . $event->objectid . ' not registered yet: ' . $e->getMessage(), DEBUG_DEVELOPER);
        }
    }

    /**
     * Report the end (submission or abandonment) of a proctored attempt.
     *
     * The sidecar hears it at once, so that the attempt's upload token stops working and its
     * score is final; when the sidecar cannot be reached (or fails) the call is queued as an ad-hoc
     * task, which Moodle's cron retries until it is delivered. A refusal is final and only shown to
     * developers, as the task would get it again: mostly an attempt the sidecar never registered.
     *
     * @param \core\event\base $event attempt_submitted or attempt_abandoned
     */
    public static function attempt_ended(\core\event\base $event): void {
        global $DB;
        $quizid = $event->other['quizid'] ?? null;
        if (
            !$quizid || empty(get_config('quizaccess_proctorpy', 'sidecarurl'))
                || !$DB->record_exists('quizaccess_proctorpy', ['quizid' => $quizid, 'enabled' => 1])
        ) {
            return;
        }
        $attempt = $DB->get_record('quiz_attempts', ['id' => $event->objectid], 'id, quiz, userid, timefinish, timemodified');
        if (!$attempt) {
            return;
        }
        $context = \context::instance_by_id($event->contextid, IGNORE_MISSING);
        // An abandoned attempt has no finish time: it ended when it was marked abandoned, the time
        // the quiz wrote as its last change, which the event's own time may be a second past.
        $endedat = $attempt->timefinish ?: $attempt->timemodified ?: $event->timecreated;
        self::report_end($attempt, $context, (int) $endedat);
    }

    /**
     * Proctoring was switched off for a quiz: its attempts in progress take no more uploads from now on.
     *
     * The sidecar records each as ended now, so the upload tokens already in students' browsers are
     * refused at once. The quiz being unproctored, their submission later is not reported: the
     * sidecar's record, and its score, cover the proctored part of each attempt.
     *
     * @param int $quizid the quiz
     */
    public static function proctoring_switched_off(int $quizid): void {
        global $DB;
        if (empty(get_config('quizaccess_proctorpy', 'sidecarurl'))) {
            return;
        }
        $cm = get_coursemodule_from_instance('quiz', $quizid, 0, false, IGNORE_MISSING);
        $context = $cm ? \context_module::instance($cm->id) : null;
        $now = time();
        $attempts = $DB->get_records_select(
            'quiz_attempts',
            "quiz = :quiz AND state IN ('inprogress', 'overdue')",
            ['quiz' => $quizid],
            'id',
            'id, quiz, userid'
        );
        foreach ($attempts as $attempt) {
            self::report_end($attempt, $context, $now);
        }
    }

    /**
     * Tell the sidecar a proctored attempt ended, at once; queue the call when the sidecar cannot take it now.
     *
     * @param \stdClass $attempt id, quiz and userid of the quiz attempt
     * @param \context|null $context the quiz's context, for the student's exemption
     * @param int $finishedat unix seconds
     */
    private static function report_end(\stdClass $attempt, ?\context $context, int $finishedat): void {
        if ($context && has_capability('quizaccess/proctorpy:bypass', $context, $attempt->userid)) {
            // Exempt attempts are never registered with the sidecar.
            return;
        }
        $path = api::finish((int) $attempt->id);
        $body = ['finished_at' => $finishedat];
        try {
            $answer = sidecar_client::from_config(self::TIMEOUT)->json('POST', $path, $body);
        } catch (sidecar_exception $e) {
            if ($e->is_transient()) {
                sidecar_call::queue('POST', $path, $body);
                // The score is final once the end reaches the sidecar: look at it then.
                alert_flagged_attempt::queue((int) $attempt->id, null, flag_alert::RECHECKS, flag_alert::RECHECK_DELAY);
            } else {
                debugging(
                    'proctorpy: the end of attempt ' . $attempt->id . ' was refused: ' . $e->getMessage(),
                    DEBUG_DEVELOPER
                );
            }
            return;
        }
        // The answer carries the stored score: a flagged attempt's teachers hear of it at the next cron run.
        flag_alert::attempt_ended((int) $attempt->id, (int) $attempt->quiz, $answer);
    }

    /**
     * An attempt was deleted in Moodle.
     *
     * @param \mod_quiz\event\attempt_deleted $event the event
     */
    public static function attempt_deleted(\mod_quiz\event\attempt_deleted $event): void {
        global $DB;
        $DB->delete_records('quizaccess_proctorpy_idcheck', ['attemptid' => (int) $event->objectid]);
        $DB->delete_records(flag_alert::TABLE, ['attemptid' => (int) $event->objectid]);
        self::purge(['attempt_id' => (int) $event->objectid], $event);
    }

    /**
     * A quiz was deleted: its course module's instance is the quiz id the sidecar knows.
     *
     * @param \core\event\course_module_deleted $event the event
     */
    public static function course_module_deleted(\core\event\course_module_deleted $event): void {
        if (($event->other['modulename'] ?? '') === 'quiz') {
            flag_alert::forget_deleted_attempts();
            self::purge(['quiz_id' => (int) $event->other['instanceid']], $event);
        }
    }

    /**
     * A course was deleted.
     *
     * @param \core\event\course_deleted $event the event
     */
    public static function course_deleted(\core\event\course_deleted $event): void {
        self::purge(['course_id' => (int) $event->objectid], $event);
    }

    /**
     * Queue a purge, unless the site leaves deleted activities' data to the sidecar's retention.
     *
     * @param array $selection what to purge
     * @param \core\event\base $event the deletion, for the audit log's actor
     */
    private static function purge(array $selection, \core\event\base $event): void {
        global $DB;
        $config = get_config('quizaccess_proctorpy');
        if (empty($config->sidecarurl) || empty($config->purgeondelete)) {
            return;
        }
        $actor = $DB->get_record('user', ['id' => $event->userid]);
        sidecar_call::queue('POST', api::purge(), $selection + ['dry_run' => false]
            + api::actor((int) $event->userid, $actor ? fullname($actor) : ''));
    }
}
