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

namespace quizaccess_proctorpy;

use quizaccess_proctorpy\local\flag_alert;
use quizaccess_proctorpy\local\proctored_attempt;
use quizaccess_proctorpy\task\alert_flagged_attempt;
use quizaccess_proctorpy\task\watch_flagged_attempts;
use quizaccess_proctorpy\tests\proctorpy_helper;

#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\local\flag_alert::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\task\alert_flagged_attempt::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\task\watch_flagged_attempts::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\observer::class)]
/**
 * Tests of the alerts about flagged attempts, scored by the live sidecar.
 *
 * The sidecar is named by PROCTORPY_TEST_SIDECAR_URL and PROCTORPY_TEST_SIDECAR_SECRET; without them these tests fail.
 * An attempt is made to look an hour old with no camshot: the camera counts as off nearly all that time, and the
 * sidecar's score falls far below the threshold.
 *
 * @package    quizaccess_proctorpy
 * @category   test
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 * @covers     \quizaccess_proctorpy\local\flag_alert
 * @covers     \quizaccess_proctorpy\task\alert_flagged_attempt
 * @covers     \quizaccess_proctorpy\task\watch_flagged_attempts
 * @covers     \quizaccess_proctorpy\observer
 */
final class alert_test extends \advanced_testcase {
    use proctorpy_helper;

    /** @var sidecar_client the plugin's client of the live sidecar */
    private $client;
    /** @var \stdClass the course */
    private $course;
    /** @var \stdClass a student */
    private $student;
    /** @var \stdClass the course's editing teacher */
    private $teacher;

    /**
     * A course with a student and a teacher, and the live sidecar emptied.
     */
    protected function setUp(): void {
        parent::setUp();
        $this->resetAfterTest();
        $this->client = $this->use_live_sidecar();
        [$this->course, $this->student, $this->teacher] = $this->create_course_with_users();
    }

    /**
     * Start an attempt that the sidecar scores as an hour without a camshot.
     *
     * @param \stdClass $quiz the quiz
     * @param \stdClass $student the student
     * @return \stdClass row of quiz_attempts
     */
    private function hour_old_attempt(\stdClass $quiz, \stdClass $student): \stdClass {
        global $DB;
        $attempt = $this->start_attempt($quiz, $student);
        $DB->set_field('quiz_attempts', 'timestart', time() - 3600, ['id' => $attempt->id]);
        proctored_attempt::load((int) $attempt->id, $this->client)->register();
        return $DB->get_record('quiz_attempts', ['id' => $attempt->id]);
    }

    /**
     * Make an attempt in progress reach now on the sidecar's clock, as a browser event does: its score is then
     * computed over the hour.
     *
     * @param \stdClass $attempt row of quiz_attempts
     */
    private function event_now(\stdClass $attempt): void {
        $this->client->json('POST', api::events(), ['attempt_id' => (int) $attempt->id, 'user_id' => (int) $attempt->userid,
            'type' => 'focus_back', 'at' => (int) (microtime(true) * 1000), 'client_event_id' => 'now' . $attempt->id]);
    }

    /**
     * Run the scheduled task, then the ad-hoc tasks it queued, quietly.
     */
    private function run_tasks(): void {
        ob_start();
        (new watch_flagged_attempts())->execute();
        $this->runAdhocTasks(alert_flagged_attempt::class);
        ob_end_clean();
    }

    /**
     * The messages of the provider, as [recipient id => message].
     *
     * @param \phpunit_message_sink $sink the redirected messages
     * @return \stdClass[]
     */
    private static function alerts(\phpunit_message_sink $sink): array {
        $alerts = [];
        foreach ($sink->get_messages() as $message) {
            if ($message->component === 'quizaccess_proctorpy' && $message->eventtype === 'attemptflagged') {
                $alerts[(int) $message->useridto] = $message;
            }
        }
        return $alerts;
    }

    /**
     * The message provider is declared, for report viewers.
     */
    public function test_message_provider_is_declared(): void {
        global $DB;
        $provider = $DB->get_record(
            'message_providers',
            ['component' => 'quizaccess_proctorpy', 'name' => 'attemptflagged'],
            '*',
            MUST_EXIST
        );
        $this->assertSame('quizaccess/proctorpy:viewreport', $provider->capability);
    }

    /**
     * A flagged attempt submitted: at the next cron run its teacher gets one notification with the score and a link to
     * its report, once.
     */
    public function test_submission_alerts_the_teacher_once(): void {
        global $DB;
        $quiz = $this->create_quiz($this->course);
        $attempt = $this->hour_old_attempt($quiz, $this->student);
        $sink = $this->redirectMessages();
        $this->finish_attempt($attempt);
        $this->assertSame([], self::alerts($sink), 'Sent by the task, not in the student\'s request');
        $this->assertCount(1, \core\task\manager::get_adhoc_tasks(alert_flagged_attempt::class));
        $this->run_tasks();

        $alerts = self::alerts($sink);
        $this->assertSame([(int) $this->teacher->id], array_keys($alerts));
        $message = $alerts[(int) $this->teacher->id];
        $this->assertEquals(1, $message->notification);
        $this->assertStringContainsString('Émile Zoë', $message->subject);
        $this->assertStringContainsString('Midterm', $message->subject);
        $url = new \moodle_url('/mod/quiz/accessrule/proctorpy/report.php', ['cmid' => $quiz->cmid, 'attempt' => $attempt->id]);
        $this->assertSame($url->out(false), $message->contexturl);
        $this->assertStringContainsString($url->out(false), $message->fullmessage);
        $score = $this->sidecar_attempt($this->client, $attempt->id)['score'];
        $this->assertTrue($score['flagged']);
        $alert = $DB->get_record(flag_alert::TABLE, ['attemptid' => $attempt->id], '*', MUST_EXIST);
        $this->assertEquals($score['value'], $alert->score);
        $this->assertEquals(1, $alert->recipients);

        // Neither the scheduled task, nor a queued alert, nor another send tells anyone again.
        $sink->clear();
        alert_flagged_attempt::queue((int) $attempt->id, ['value' => 1.0, 'threshold' => 60.0]);
        $this->run_tasks();
        $this->assertSame(0, flag_alert::send((int) $attempt->id, 1.0));
        $this->assertSame([], self::alerts($sink));
        $this->assertSame(1, $DB->count_records(flag_alert::TABLE));
    }

    /**
     * An attempt submitted with a score above the threshold alerts no one.
     */
    public function test_honest_attempt_alerts_no_one(): void {
        $quiz = $this->create_quiz($this->course, ['threshold' => 0]);
        $attempt = $this->hour_old_attempt($quiz, $this->student);
        $sink = $this->redirectMessages();
        $this->finish_attempt($attempt);
        $this->run_tasks();
        $this->assertSame([], self::alerts($sink));
        $this->assertFalse(flag_alert::sent((int) $attempt->id));
    }

    /**
     * With the quiz's alerts off, a flagged attempt alerts no one, at submission or while it runs.
     */
    public function test_setting_off_alerts_no_one(): void {
        $quiz = $this->create_quiz($this->course, ['alerts' => 0]);
        $running = $this->hour_old_attempt($quiz, $this->student);
        $this->event_now($running);
        $sink = $this->redirectMessages();
        $this->run_tasks();
        $this->finish_attempt($running);
        $this->run_tasks();
        $this->assertSame([], self::alerts($sink));
        $this->assertFalse(flag_alert::sent((int) $running->id));
        $this->assertTrue($this->sidecar_attempt($this->client, $running->id)['score']['flagged']);
    }

    /**
     * While an attempt runs, the scheduled task finds it flagged and its teacher is alerted once, not again at
     * submission nor at the next run.
     */
    public function test_task_alerts_during_the_attempt(): void {
        $quiz = $this->create_quiz($this->course);
        $attempt = $this->hour_old_attempt($quiz, $this->student);
        $sink = $this->redirectMessages();
        $this->run_tasks();
        $this->assertSame([], self::alerts($sink), 'Nothing scored beyond the start yet');

        $this->event_now($attempt);
        $this->run_tasks();
        $this->assertSame([(int) $this->teacher->id], array_keys(self::alerts($sink)));
        $this->assertTrue(flag_alert::sent((int) $attempt->id));

        $sink->clear();
        $this->run_tasks();
        $this->finish_attempt($attempt);
        $this->run_tasks();
        $this->assertSame([], self::alerts($sink));
    }

    /**
     * In a quiz with separate groups, a teacher without the right to access all groups hears only of students of
     * their groups; one who may access all groups hears of every student.
     */
    public function test_groups_decide_who_hears(): void {
        $generator = $this->getDataGenerator();
        $quiz = $this->create_quiz($this->course, [], ['groupmode' => SEPARATEGROUPS]);
        $groupa = $generator->create_group(['courseid' => $this->course->id, 'name' => 'A']);
        $groupb = $generator->create_group(['courseid' => $this->course->id, 'name' => 'B']);
        $assistanta = $generator->create_and_enrol($this->course, 'teacher');
        $assistantb = $generator->create_and_enrol($this->course, 'teacher');
        $otherstudent = $generator->create_and_enrol($this->course, 'student');
        $generator->create_group_member(['groupid' => $groupa->id, 'userid' => $this->student->id]);
        $generator->create_group_member(['groupid' => $groupa->id, 'userid' => $assistanta->id]);
        $generator->create_group_member(['groupid' => $groupb->id, 'userid' => $otherstudent->id]);
        $generator->create_group_member(['groupid' => $groupb->id, 'userid' => $assistantb->id]);

        $sink = $this->redirectMessages();
        $this->finish_attempt($this->hour_old_attempt($quiz, $this->student));
        $this->run_tasks();
        $this->assertEqualsCanonicalizing([(int) $this->teacher->id, (int) $assistanta->id], array_keys(self::alerts($sink)));

        $sink->clear();
        $this->finish_attempt($this->hour_old_attempt($quiz, $otherstudent));
        $this->run_tasks();
        $this->assertEqualsCanonicalizing([(int) $this->teacher->id, (int) $assistantb->id], array_keys(self::alerts($sink)));
    }

    /**
     * An attempt that ended with a score not final yet (camshots waiting for analysis) is looked at again later:
     * not flagged yet, once more; flagged, its teacher is alerted.
     */
    public function test_unfinal_score_is_looked_at_again(): void {
        $quiz = $this->create_quiz($this->course);
        $attempt = $this->hour_old_attempt($quiz, $this->student);
        flag_alert::attempt_ended(
            (int) $attempt->id,
            (int) $quiz->id,
            ['score' => ['value' => null, 'flagged' => false, 'final' => false]]
        );
        $queued = \core\task\manager::get_adhoc_tasks(alert_flagged_attempt::class);
        $this->assertCount(1, $queued);
        $this->assertGreaterThan(time(), reset($queued)->get_next_run_time(), 'Later, not at once');
        $this->assertEquals(flag_alert::RECHECKS, reset($queued)->get_custom_data()->rechecks);

        // The sidecar's score is not final and not flagged: another look is queued, with one fewer left.
        $sink = $this->redirectMessages();
        ob_start();
        $this->runAdhocTasks(alert_flagged_attempt::class);
        ob_end_clean();
        $queued = \core\task\manager::get_adhoc_tasks(alert_flagged_attempt::class);
        $this->assertCount(1, $queued);
        $this->assertEquals(flag_alert::RECHECKS - 1, reset($queued)->get_custom_data()->rechecks);

        // Now the stored score is flagged: that look alerts, and queues nothing more.
        $this->event_now($attempt);
        ob_start();
        $this->runAdhocTasks(alert_flagged_attempt::class);
        ob_end_clean();
        $this->assertSame([(int) $this->teacher->id], array_keys(self::alerts($sink)));
        $this->assertSame([], \core\task\manager::get_adhoc_tasks(alert_flagged_attempt::class));
    }

    /**
     * Deleting the attempt, or the quiz, forgets its alert.
     */
    public function test_deletion_forgets_the_alert(): void {
        global $CFG, $DB;
        require_once($CFG->dirroot . '/course/lib.php');
        set_config('coursebinenable', 0, 'tool_recyclebin');
        $quiz = $this->create_quiz($this->course);
        $first = $this->hour_old_attempt($quiz, $this->student);
        $this->finish_attempt($first);
        $second = $this->hour_old_attempt($quiz, $this->student);
        $this->finish_attempt($second);
        $this->redirectMessages();
        $this->run_tasks();
        $this->assertSame(2, $DB->count_records(flag_alert::TABLE));

        $this->setAdminUser();
        quiz_delete_attempt($DB->get_record('quiz_attempts', ['id' => $first->id]), $quiz);
        $left = $DB->get_fieldset_select(flag_alert::TABLE, 'attemptid', '1 = 1');
        $this->assertSame([(int) $second->id], array_map('intval', $left));
        course_delete_module($quiz->cmid);
        $this->assertSame(0, $DB->count_records(flag_alert::TABLE));
    }

    /**
     * The teachers' popup notifications about flagged attempts, as [recipient id => count].
     *
     * @return int[]
     */
    private static function popups(): array {
        global $DB;
        $rows = $DB->get_records_sql(
            "SELECT n.useridto, COUNT(1) AS popups
               FROM {notifications} n
               JOIN {message_popup_notifications} p ON p.notificationid = n.id
              WHERE n.component = 'quizaccess_proctorpy' AND n.eventtype = 'attemptflagged'
           GROUP BY n.useridto"
        );
        return array_map('intval', array_column($rows, 'popups', 'useridto'));
    }

    /**
     * An alert comes as a popup and no email, until the teacher asks for email in their notification preferences.
     */
    public function test_alert_is_a_popup_and_email_is_opt_in(): void {
        $quiz = $this->create_quiz($this->course);
        $emails = $this->redirectEmails();
        $this->finish_attempt($this->hour_old_attempt($quiz, $this->student));
        $this->run_tasks();
        $this->assertSame([(int) $this->teacher->id => 1], self::popups());
        $this->assertSame(0, $emails->count());

        set_user_preference('message_provider_quizaccess_proctorpy_attemptflagged_enabled', 'popup,email', $this->teacher);
        $this->finish_attempt($this->hour_old_attempt($quiz, $this->student));
        $this->run_tasks();
        $this->assertSame([(int) $this->teacher->id => 2], self::popups());
        $this->assertSame(1, $emails->count());
        $this->assertSame($this->teacher->email, $emails->get_messages()[0]->to);
    }

    /**
     * The upgrade makes the popup the only default output on a site that kept the former default, popup and email,
     * and leaves an administrator's own choice alone.
     */
    public function test_upgrade_makes_email_opt_in(): void {
        global $CFG;
        require_once($CFG->dirroot . '/mod/quiz/accessrule/proctorpy/db/upgradelib.php');
        $name = 'message_provider_quizaccess_proctorpy_attemptflagged_enabled';
        $this->assertSame('popup', get_config('message', $name), 'A new site sends popups only');
        $this->assertEmpty(get_config('message', 'email_provider_quizaccess_proctorpy_attemptflagged_locked'), 'Not locked');

        $upgrades = ['email,popup' => 'popup', 'popup,email' => 'popup', 'email' => 'email',
            'airnotifier,email,popup' => 'airnotifier,email,popup', 'popup' => 'popup'];
        foreach ($upgrades as $before => $after) {
            set_config($name, $before, 'message');
            quizaccess_proctorpy_alerts_popup_by_default();
            $this->assertSame($after, get_config('message', $name), $before);
        }
    }
}
