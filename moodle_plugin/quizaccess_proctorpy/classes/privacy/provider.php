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
 * Privacy provider: the sidecar holds the proctoring data and is asked to export or delete it; the plugin keeps how
 * each attempt's identity check ended, and the alert sent about each flagged attempt.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy\privacy;

use core_privacy\local\metadata\collection;
use core_privacy\local\request\approved_contextlist;
use core_privacy\local\request\approved_userlist;
use core_privacy\local\request\contextlist;
use core_privacy\local\request\transform;
use core_privacy\local\request\userlist;
use core_privacy\local\request\writer;
use quizaccess_proctorpy\api;
use quizaccess_proctorpy\sidecar_client;
use quizaccess_proctorpy\sidecar_exception;

/**
 * Declares what is sent to the sidecar, and exports and deletes it through the sidecar's API, context by context,
 * with the identity checks' outcomes kept in Moodle.
 *
 * The sidecar knows quizzes by quiz id (the course module's instance), never by course module id,
 * so every per-context request translates the context to its quiz id.
 */
class provider implements
    \core_privacy\local\request\core_userlist_provider,
    \core_privacy\local\metadata\provider,
    \core_privacy\local\request\plugin\provider {
    /**
     * What the plugin stores and what it sends to the sidecar.
     *
     * @param collection $collection the collection to add to
     * @return collection
     */
    public static function get_metadata(collection $collection): collection {
        $collection->add_database_table('quizaccess_proctorpy', [
            'quizid' => 'privacy:metadata:quizaccess_proctorpy:quizid',
            'enabled' => 'privacy:metadata:quizaccess_proctorpy:enabled',
        ], 'privacy:metadata:quizaccess_proctorpy');
        $collection->add_database_table('quizaccess_proctorpy_idcheck', [
            'attemptid' => 'privacy:metadata:quizaccess_proctorpy_idcheck:attemptid',
            'outcome' => 'privacy:metadata:quizaccess_proctorpy_idcheck:outcome',
            'waivedby' => 'privacy:metadata:quizaccess_proctorpy_idcheck:waivedby',
            'timecreated' => 'privacy:metadata:quizaccess_proctorpy_idcheck:timecreated',
        ], 'privacy:metadata:quizaccess_proctorpy_idcheck');
        $collection->add_database_table('quizaccess_proctorpy_alert', [
            'attemptid' => 'privacy:metadata:quizaccess_proctorpy_alert:attemptid',
            'score' => 'privacy:metadata:quizaccess_proctorpy_alert:score',
            'recipients' => 'privacy:metadata:quizaccess_proctorpy_alert:recipients',
            'timecreated' => 'privacy:metadata:quizaccess_proctorpy_alert:timecreated',
        ], 'privacy:metadata:quizaccess_proctorpy_alert');
        $collection->link_external_location('sidecar', [
            'userid' => 'privacy:metadata:sidecar:userid',
            'fullname' => 'privacy:metadata:sidecar:fullname',
            'attempt' => 'privacy:metadata:sidecar:attempt',
            'camshots' => 'privacy:metadata:sidecar:camshots',
            'referencephoto' => 'privacy:metadata:sidecar:referencephoto',
            'faceencodings' => 'privacy:metadata:sidecar:faceencodings',
            'events' => 'privacy:metadata:sidecar:events',
            'analysis' => 'privacy:metadata:sidecar:analysis',
            'score' => 'privacy:metadata:sidecar:score',
            'review' => 'privacy:metadata:sidecar:review',
            'reviewer' => 'privacy:metadata:sidecar:reviewer',
            'mentions' => 'privacy:metadata:sidecar:mentions',
            'auditlog' => 'privacy:metadata:sidecar:auditlog',
        ], 'privacy:metadata:sidecar');
        return $collection;
    }

    /**
     * Quiz contexts where the user attempted a proctored quiz, reviewed an attempt or was recognised in someone else's,
     * and then the user's own context.
     *
     * The profile photo the sidecar keeps as the user's reference, and the face encoding made from it,
     * serve every proctored quiz the user takes and belong to none of them: they go with the user
     * context, where Moodle keeps the profile picture they are copied from. A request approved for one
     * quiz then neither hands them out nor deletes them from under the user's other quizzes.
     *
     * @param int $userid the user
     * @return contextlist
     */
    public static function get_contexts_for_userid(int $userid): contextlist {
        global $DB;
        $contextlist = new contextlist();
        $contextlist->add_from_sql(
            "SELECT DISTINCT ctx.id
               FROM {quiz_attempts} qa
               JOIN {quizaccess_proctorpy} p ON p.quizid = qa.quiz
               JOIN {course_modules} cm ON cm.instance = qa.quiz
               JOIN {modules} m ON m.id = cm.module AND m.name = 'quiz'
               JOIN {context} ctx ON ctx.instanceid = cm.id AND ctx.contextlevel = :contextlevel
              WHERE qa.userid = :userid",
            ['contextlevel' => CONTEXT_MODULE, 'userid' => $userid]
        );
        // A teacher who let attempts go on without a passing identity check.
        $contextlist->add_from_sql(
            "SELECT DISTINCT ctx.id
               FROM {quizaccess_proctorpy_idcheck} ic
               JOIN {quiz_attempts} qa ON qa.id = ic.attemptid
               JOIN {course_modules} cm ON cm.instance = qa.quiz
               JOIN {modules} m ON m.id = cm.module AND m.name = 'quiz'
               JOIN {context} ctx ON ctx.instanceid = cm.id AND ctx.contextlevel = :contextlevel
              WHERE ic.waivedby = :userid",
            ['contextlevel' => CONTEXT_MODULE, 'userid' => $userid]
        );
        // The sidecar alone knows who recorded a review or whose face a camshot recognised.
        $involvement = self::involvement($userid, null);
        $quizids = array_unique(array_merge(
            array_column($involvement['reviews'], 'quiz_id'),
            array_column($involvement['mentions'], 'quiz_id')
        ));
        if ($quizids) {
            [$insql, $params] = $DB->get_in_or_equal(array_map('intval', $quizids), SQL_PARAMS_NAMED);
            $contextlist->add_from_sql(
                "SELECT ctx.id
                   FROM {course_modules} cm
                   JOIN {modules} m ON m.id = cm.module AND m.name = 'quiz'
                   JOIN {context} ctx ON ctx.instanceid = cm.id AND ctx.contextlevel = :contextlevel
                  WHERE cm.instance $insql",
                $params + ['contextlevel' => CONTEXT_MODULE]
            );
        }
        if (self::attempted_proctored_quiz($userid)) {
            $contextlist->add_user_context($userid);
        }
        return $contextlist;
    }

    /**
     * Users who attempted the proctored quiz of a context, let an attempt go on without its identity check, reviewed
     * an attempt or were recognised in someone else's; in a user context, that user if they attempted any.
     *
     * @param userlist $userlist the list to fill
     */
    public static function get_users_in_context(userlist $userlist) {
        $context = $userlist->get_context();
        if ($context->contextlevel == CONTEXT_USER) {
            if (self::attempted_proctored_quiz((int) $context->instanceid)) {
                $userlist->add_user((int) $context->instanceid);
            }
            return;
        }
        $quizid = self::quiz_id($context);
        if ($quizid === null) {
            return;
        }
        $userlist->add_from_sql(
            'userid',
            "SELECT qa.userid
               FROM {quiz_attempts} qa
               JOIN {quizaccess_proctorpy} p ON p.quizid = qa.quiz
              WHERE qa.quiz = :quizid",
            ['quizid' => $quizid]
        );
        $userlist->add_from_sql(
            'waivedby',
            "SELECT ic.waivedby
               FROM {quizaccess_proctorpy_idcheck} ic
               JOIN {quiz_attempts} qa ON qa.id = ic.attemptid
              WHERE qa.quiz = :quizid AND ic.waivedby <> 0",
            ['quizid' => $quizid]
        );
        if (self::sidecar_configured()) {
            $involved = sidecar_client::from_config(120)->json('GET', api::quiz_involved($quizid));
            $userlist->add_users(array_map('intval', array_merge($involved['reviewer_ids'], $involved['mentioned_user_ids'])));
        }
    }

    /**
     * Export the user's sidecar data, context by context: in each approved quiz context what the sidecar
     * holds of the user's attempts at that quiz, in the user context the reference photos.
     *
     * @param approved_contextlist $contextlist approved contexts
     */
    public static function export_user_data(approved_contextlist $contextlist) {
        global $DB;
        $userid = (int) $contextlist->get_user()->id;
        foreach ($contextlist->get_contexts() as $context) {
            if ($context->contextlevel == CONTEXT_USER && $context->instanceid == $userid) {
                $part = ['references' => 1];
            } else if (($quizid = self::quiz_id($context)) !== null) {
                $part = ['quiz_ids' => $quizid];
                self::export_identity_checks($context, $quizid, $userid);
                self::export_alerts($context, $quizid, $userid);
                self::export_involvement($context, $quizid, $userid);
                // A reviewer, or a student recognised in someone else's attempt, has no attempt of their own here.
                if (!$DB->record_exists('quiz_attempts', ['quiz' => $quizid, 'userid' => $userid])) {
                    continue;
                }
            } else {
                continue;
            }
            $zip = self::tolerate_unknown_user(function () use ($userid, $part) {
                return sidecar_client::from_config(120)->call('GET', api::user_data($userid, $part + self::actor()))->body;
            });
            if ($zip === null) {
                continue;
            }
            writer::with_context($context)->export_custom_file(
                [get_string('pluginname', 'quizaccess_proctorpy')],
                'proctoring-data.zip',
                $zip
            );
        }
    }

    /**
     * Delete everyone's sidecar data for the quiz of a context, or the reference photos of a user context's user.
     *
     * @param \context $context the context
     */
    public static function delete_data_for_all_users_in_context(\context $context) {
        if ($context->contextlevel == CONTEXT_USER) {
            self::delete_reference((int) $context->instanceid);
            return;
        }
        $quizid = self::quiz_id($context);
        if ($quizid !== null) {
            self::delete_identity_checks($quizid, null);
            self::purge(['quiz_id' => $quizid]);
        }
    }

    /**
     * Delete the user's sidecar data in the approved contexts: their attempts at each approved quiz,
     * their reference photos if their user context is approved.
     *
     * The sidecar deletes the reference photos with the user's last attempt, as they serve no other purpose.
     *
     * @param approved_contextlist $contextlist approved contexts
     */
    public static function delete_data_for_user(approved_contextlist $contextlist) {
        $userid = (int) $contextlist->get_user()->id;
        foreach ($contextlist->get_contexts() as $context) {
            if ($context->contextlevel == CONTEXT_USER && $context->instanceid == $userid) {
                self::delete_reference($userid);
            } else if (($quizid = self::quiz_id($context)) !== null) {
                self::delete_identity_checks($quizid, $userid);
                self::purge(['quiz_id' => $quizid, 'user_id' => $userid]);
                self::forget_involvement($quizid, $userid);
            }
        }
    }

    /**
     * Delete the sidecar data of several users for the quiz of one context, or the user context's reference photos.
     *
     * @param approved_userlist $userlist approved users
     */
    public static function delete_data_for_users(approved_userlist $userlist) {
        $context = $userlist->get_context();
        if ($context->contextlevel == CONTEXT_USER) {
            if (in_array($context->instanceid, $userlist->get_userids())) {
                self::delete_reference((int) $context->instanceid);
            }
            return;
        }
        $quizid = self::quiz_id($context);
        if ($quizid === null) {
            return;
        }
        foreach ($userlist->get_userids() as $userid) {
            self::delete_identity_checks($quizid, (int) $userid);
            self::purge(['quiz_id' => $quizid, 'user_id' => (int) $userid]);
            self::forget_involvement($quizid, (int) $userid);
        }
    }

    /**
     * Export how the identity checks of the user's attempts at the quiz ended, and the ones the user waived.
     *
     * @param \context $context the quiz's context
     * @param int $quizid the quiz
     * @param int $userid the user
     */
    private static function export_identity_checks(\context $context, int $quizid, int $userid): void {
        global $DB;
        $rows = $DB->get_records_sql(
            "SELECT ic.id, ic.attemptid, qa.userid, ic.outcome, ic.waivedby, ic.timecreated
               FROM {quizaccess_proctorpy_idcheck} ic
               JOIN {quiz_attempts} qa ON qa.id = ic.attemptid
              WHERE qa.quiz = :quizid AND (qa.userid = :userid OR ic.waivedby = :waivedby)
           ORDER BY ic.timecreated, ic.id",
            ['quizid' => $quizid, 'userid' => $userid, 'waivedby' => $userid]
        );
        if (!$rows) {
            return;
        }
        $checks = [];
        foreach ($rows as $row) {
            $checks[] = [
                'attempt' => (int) $row->attemptid,
                'yourattempt' => transform::yesno((int) $row->userid === $userid),
                'outcome' => $row->outcome,
                'waivedbyyou' => transform::yesno((int) $row->waivedby === $userid),
                'time' => transform::datetime($row->timecreated),
            ];
        }
        writer::with_context($context)->export_data(
            [get_string('pluginname', 'quizaccess_proctorpy'), get_string('identitytitle', 'quizaccess_proctorpy')],
            (object) ['checks' => $checks]
        );
    }

    /**
     * Export the alerts sent about the user's attempts at the quiz.
     *
     * @param \context $context the quiz's context
     * @param int $quizid the quiz
     * @param int $userid the user
     */
    private static function export_alerts(\context $context, int $quizid, int $userid): void {
        global $DB;
        $rows = $DB->get_records_sql(
            "SELECT al.id, al.attemptid, al.score, al.recipients, al.timecreated
               FROM {quizaccess_proctorpy_alert} al
               JOIN {quiz_attempts} qa ON qa.id = al.attemptid
              WHERE qa.quiz = :quizid AND qa.userid = :userid
           ORDER BY al.timecreated, al.id",
            ['quizid' => $quizid, 'userid' => $userid]
        );
        if (!$rows) {
            return;
        }
        $alerts = [];
        foreach ($rows as $row) {
            $alerts[] = [
                'attempt' => (int) $row->attemptid,
                'score' => $row->score === null ? null : (float) $row->score,
                'recipients' => (int) $row->recipients,
                'time' => transform::datetime($row->timecreated),
            ];
        }
        writer::with_context($context)->export_data(
            [get_string('pluginname', 'quizaccess_proctorpy'), get_string('privacyalerts', 'quizaccess_proctorpy')],
            (object) ['alerts' => $alerts]
        );
    }

    /**
     * Export what the sidecar holds of the user in other students' attempts at the quiz: the reviews they recorded,
     * and when a camshot recognised their face. The camshots themselves belong to the other students' attempts.
     *
     * @param \context $context the quiz's context
     * @param int $quizid the quiz
     * @param int $userid the user
     */
    private static function export_involvement(\context $context, int $quizid, int $userid): void {
        $involvement = self::involvement($userid, $quizid);
        $plugin = get_string('pluginname', 'quizaccess_proctorpy');
        if ($involvement['reviews']) {
            $reviews = array_map(function (array $review): array {
                return [
                    'attempt' => (int) $review['attempt_id'],
                    'conclusion' => (string) $review['conclusion'],
                    'comment' => (string) $review['comment'],
                    'time' => transform::datetime((int) $review['reviewed_at']),
                ];
            }, $involvement['reviews']);
            writer::with_context($context)->export_data(
                [$plugin, get_string('privacyreviews', 'quizaccess_proctorpy')],
                (object) ['reviews' => $reviews]
            );
        }
        if ($involvement['mentions']) {
            $mentions = array_map(function (array $mention): array {
                return ['camshot' => (string) $mention['camshot_id'], 'time' => transform::datetime(
                    intdiv((int) $mention['taken_at'], 1000)
                )];
            }, $involvement['mentions']);
            writer::with_context($context)->export_data(
                [$plugin, get_string('privacymentions', 'quizaccess_proctorpy')],
                (object) ['mentions' => $mentions]
            );
        }
    }

    /**
     * Delete the identity checks and alerts of a quiz's attempts (of one user's attempts when given), and forget that
     * the user waived any.
     *
     * @param int $quizid the quiz
     * @param int|null $userid the user, null for everyone
     */
    private static function delete_identity_checks(int $quizid, ?int $userid): void {
        global $DB;
        $attempts = "SELECT id FROM {quiz_attempts} WHERE quiz = :quizid";
        $params = ['quizid' => $quizid];
        if ($userid !== null) {
            $DB->set_field_select(
                'quizaccess_proctorpy_idcheck',
                'waivedby',
                0,
                "waivedby = :waivedby AND attemptid IN ($attempts)",
                $params + ['waivedby' => $userid]
            );
            $attempts .= " AND userid = :userid";
            $params['userid'] = $userid;
        }
        $DB->delete_records_select('quizaccess_proctorpy_idcheck', "attemptid IN ($attempts)", $params);
        $DB->delete_records_select('quizaccess_proctorpy_alert', "attemptid IN ($attempts)", $params);
    }

    /**
     * Whether the site has a sidecar to ask: without one it holds nothing.
     *
     * @return bool
     */
    private static function sidecar_configured(): bool {
        return (string) get_config('quizaccess_proctorpy', 'sidecarurl') !== '';
    }

    /**
     * The reviews the user recorded and the camshots that recognised them in other students' attempts, as the sidecar
     * lists them (quiz_id on each), at one quiz or every quiz.
     *
     * @param int $userid the user
     * @param int|null $quizid the quiz whose data is exported (audited by the sidecar), null to find the user's quizzes
     * @return array reviews and mentions
     */
    private static function involvement(int $userid, ?int $quizid): array {
        if (!self::sidecar_configured()) {
            return ['reviews' => [], 'mentions' => []];
        }
        $query = $quizid === null ? [] : ['quiz_ids' => $quizid, 'view' => 'export'] + self::actor();
        return sidecar_client::from_config(120)->json('GET', api::user_involvement($userid, $query));
    }

    /**
     * Forget the user in other students' attempts at the quiz: the reviews they recorded keep their conclusion and
     * comment for the student's record without the reviewer's name, and no camshot says any longer that it recognised
     * them.
     *
     * @param int $quizid the quiz
     * @param int $userid the user
     */
    private static function forget_involvement(int $quizid, int $userid): void {
        sidecar_client::from_config(120)->json(
            'DELETE',
            api::user_involvement($userid, ['quiz_ids' => $quizid] + self::actor())
        );
    }

    /**
     * Whether the user attempted a proctored quiz, which gave the sidecar their profile photo.
     *
     * @param int $userid the user
     * @return bool
     */
    private static function attempted_proctored_quiz(int $userid): bool {
        global $DB;
        return $DB->record_exists_sql(
            "SELECT 1
               FROM {quiz_attempts} qa
               JOIN {quizaccess_proctorpy} p ON p.quizid = qa.quiz
              WHERE qa.userid = :userid",
            ['userid' => $userid]
        );
    }

    /**
     * Run a sidecar call about a user; a user the sidecar does not hold (a teacher's preview, or retention
     * deleted everything) has nothing to export or delete.
     *
     * @param callable $call the call
     * @return mixed what the call returns, null for a user the sidecar does not hold
     */
    private static function tolerate_unknown_user(callable $call) {
        try {
            return $call();
        } catch (sidecar_exception $e) {
            if ($e->errorcode === 'unknown_user') {
                return null;
            }
            throw $e;
        }
    }

    /**
     * Delete a user's reference photos and face encodings from the sidecar now.
     *
     * @param int $userid the user
     */
    private static function delete_reference(int $userid): void {
        self::tolerate_unknown_user(function () use ($userid) {
            return sidecar_client::from_config(120)->json('DELETE', api::with_query(api::reference($userid), self::actor()));
        });
    }

    /**
     * The quiz id (not the course module id) of a quiz module context, null for other contexts.
     *
     * @param \context $context a context
     * @return int|null
     */
    private static function quiz_id(\context $context): ?int {
        if ($context->contextlevel != CONTEXT_MODULE) {
            return null;
        }
        $cm = get_coursemodule_from_id('quiz', $context->instanceid);
        return $cm ? (int) $cm->instance : null;
    }

    /**
     * Purge a selection now; a failure raises, so the privacy request is retried, not lost.
     *
     * @param array $selection quiz_id and optionally user_id
     */
    private static function purge(array $selection): void {
        sidecar_client::from_config(120)->json('POST', api::purge(), $selection + ['dry_run' => false] + self::actor());
    }

    /**
     * The user carrying out the privacy request, for the sidecar's audit log.
     *
     * @return array actor_id, actor_name
     */
    private static function actor(): array {
        global $USER;
        return api::actor((int) ($USER->id ?? 0), !empty($USER->id) ? fullname($USER) : 'privacy request');
    }
}
