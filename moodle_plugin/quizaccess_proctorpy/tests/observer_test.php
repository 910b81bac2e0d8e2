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
 * Tests of the event observers against a live sidecar.
 *
 * @package    quizaccess_proctorpy
 * @category   test
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy;

use mod_quiz\quiz_attempt;
use mod_quiz\quiz_settings;
use quizaccess_proctorpy\task\sidecar_call;
use quizaccess_proctorpy\tests\proctorpy_helper;

defined('MOODLE_INTERNAL') || die();

global $CFG;
require_once($CFG->dirroot . '/mod/quiz/locallib.php');
require_once($CFG->dirroot . '/course/lib.php');

#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\observer::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\task\sidecar_call::class)]
/**
 * Attempts starting, ending and being deleted reach the sidecar: at once when it answers, through
 * an ad-hoc task when it does not, and never at the cost of the Moodle action.
 *
 * Needs a running sidecar: PROCTORPY_TEST_SIDECAR_URL and PROCTORPY_TEST_SIDECAR_SECRET.
 *
 * @covers \quizaccess_proctorpy\observer
 * @covers \quizaccess_proctorpy\task\sidecar_call
 */
final class observer_test extends \advanced_testcase {
    use proctorpy_helper;

    /** A loopback port where nothing listens. */
    const UNREACHABLE_URL = 'http://127.0.0.1:1';

    /** @var sidecar_client the plugin's client of the live sidecar, whatever URL a test configures */
    private $client;
    /** @var string URL of the live sidecar */
    private $sidecarurl;
    /** @var \stdClass course of the quiz */
    private $course;
    /** @var \stdClass the proctored quiz, with its cmid */
    private $quiz;
    /** @var \stdClass a student enrolled in the course */
    private $student;

    /**
     * The plugin configured for the live sidecar, a course with a proctored quiz of one question, and a student.
     */
    protected function setUp(): void {
        parent::setUp();
        $this->resetAfterTest();
        $this->client = $this->use_live_sidecar();
        $this->sidecarurl = $this->client->base_url();
        set_config('purgeondelete', 1, 'quizaccess_proctorpy');

        $generator = $this->getDataGenerator();
        $this->course = $generator->create_course();
        $this->student = $generator->create_and_enrol($this->course, 'student');
        $this->quiz = $this->quiz_of_course(true);
    }

    /**
     * A quiz of this test's course with one question, proctored or not.
     *
     * @param bool $proctored whether proctoring is on
     * @return \stdClass the quiz, with its cmid
     */
    private function quiz_of_course(bool $proctored): \stdClass {
        return $this->create_quiz($this->course, $proctored ? ['identitycheck' => 'none'] : null);
    }

    /**
     * The sidecar's record of an attempt, null when it does not know it.
     *
     * @param int $attemptid attempt id
     * @return array|null
     */
    private function known_attempt(int $attemptid): ?array {
        try {
            return $this->client->json('GET', api::attempt($attemptid))['attempt'];
        } catch (sidecar_exception $e) {
            if ($e->status === 404) {
                return null;
            }
            throw $e;
        }
    }

    /**
     * Start an attempt of the student at a quiz, with Moodle's events as they are in a real request.
     *
     * @param \stdClass|null $quiz the quiz, the proctored one when null
     * @return quiz_attempt
     */
    private function begin_attempt(?\stdClass $quiz = null): quiz_attempt {
        $this->setUser($this->student);
        $attempt = quiz_prepare_and_start_new_attempt(quiz_settings::create(($quiz ?? $this->quiz)->id), 1, null);
        $this->setAdminUser();
        return quiz_attempt::create($attempt->id);
    }

    /**
     * End an attempt as a student or Moodle's cron would.
     *
     * @param quiz_attempt $attemptobj the attempt
     * @param string $how submit or abandon
     * @return int the time it ended
     */
    private static function end_attempt(quiz_attempt $attemptobj, string $how): int {
        $now = time();
        if ($how === 'submit') {
            self::submit_attempt($attemptobj, $now);
        } else {
            $attemptobj->process_abandon($now, false);
        }
        return $now;
    }

    /**
     * The queued sidecar calls, as [method, path, body].
     *
     * @return array
     */
    private static function queued_calls(): array {
        $calls = [];
        foreach (\core\task\manager::get_adhoc_tasks(sidecar_call::class) as $task) {
            $data = $task->get_custom_data();
            $calls[] = [$data->method, $data->path, (array) $data->body];
        }
        return $calls;
    }

    /**
     * Run the queued sidecar calls, as cron would.
     */
    private function run_queued_calls(): void {
        ob_start();
        $this->runAdhocTasks(sidecar_call::class);
        $output = ob_get_clean();
        $this->assertStringNotContainsString('refused', $output);
        $this->assertSame([], self::queued_calls());
    }

    /**
     * How an attempt may end.
     *
     * @return array
     */
    public static function endings(): array {
        return ['submitted' => ['submit'], 'abandoned' => ['abandon']];
    }

    /**
     * The sidecar knows a proctored attempt as soon as it starts, with its student, course and quiz.
     */
    public function test_started_attempt_is_registered(): void {
        $attemptobj = $this->begin_attempt();

        $record = $this->known_attempt($attemptobj->get_attemptid());
        $this->assertNotNull($record);
        $this->assertEquals($this->student->id, $record['user_id']);
        $this->assertEquals($this->course->id, $record['course_id']);
        $this->assertEquals($this->quiz->id, $record['quiz_id']);
        $this->assertEquals($this->quiz->cmid, $record['cm_id']);
        $this->assertEquals($attemptobj->get_attempt()->timestart, $record['started_at']);
        $this->assertNull($record['finished_at']);
        $this->assertSame([], self::queued_calls());
    }

    /**
     * An attempt that ends is finished in the sidecar at once, without cron, and its upload
     * token stops working.
     *
     * @dataProvider endings
     * @param string $how submit or abandon
     */
    #[\PHPUnit\Framework\Attributes\DataProvider('endings')]
    public function test_ended_attempt_is_finished_at_once(string $how): void {
        global $DB;
        $attemptobj = $this->begin_attempt();
        $attemptid = (int) $attemptobj->get_attemptid();
        $token = direct_upload::token(
            new signer(get_config('quizaccess_proctorpy', 'secret')),
            $attemptid,
            (int) $this->student->id,
            time() + 600
        );
        $this->assertSame(201, $this->post_direct_event($token, $attemptid, 'before'));

        $endedat = self::end_attempt($attemptobj, $how);

        $state = $how === 'submit' ? quiz_attempt::FINISHED : quiz_attempt::ABANDONED;
        $this->assertSame($state, $DB->get_field('quiz_attempts', 'state', ['id' => $attemptid]));
        $this->assertEquals($endedat, $this->known_attempt($attemptid)['finished_at']);
        $this->assertSame([], self::queued_calls());
        $this->assertSame(409, $this->post_direct_event($token, $attemptid, 'after'));
    }

    /**
     * With the sidecar unreachable the attempt still ends in Moodle; the end is queued and
     * delivered when the task runs.
     *
     * @dataProvider endings
     * @param string $how submit or abandon
     */
    #[\PHPUnit\Framework\Attributes\DataProvider('endings')]
    public function test_end_is_queued_while_the_sidecar_is_unreachable(string $how): void {
        global $DB;
        $attemptobj = $this->begin_attempt();
        $attemptid = (int) $attemptobj->get_attemptid();
        set_config('sidecarurl', self::UNREACHABLE_URL, 'quizaccess_proctorpy');

        $endedat = self::end_attempt($attemptobj, $how);

        $state = $how === 'submit' ? quiz_attempt::FINISHED : quiz_attempt::ABANDONED;
        $this->assertSame($state, $DB->get_field('quiz_attempts', 'state', ['id' => $attemptid]));
        $this->assertSame([['POST', api::finish($attemptid), ['finished_at' => $endedat]]], self::queued_calls());
        set_config('sidecarurl', $this->sidecarurl, 'quizaccess_proctorpy');
        $this->assertNull($this->known_attempt($attemptid)['finished_at']);

        $this->run_queued_calls();

        $this->assertEquals($endedat, $this->known_attempt($attemptid)['finished_at']);
    }

    /**
     * A queued call whose sidecar is still down fails, so that cron retries it later.
     */
    public function test_queued_call_fails_while_the_sidecar_is_down(): void {
        $attemptobj = $this->begin_attempt();
        set_config('sidecarurl', self::UNREACHABLE_URL, 'quizaccess_proctorpy');
        self::end_attempt($attemptobj, 'submit');

        $tasks = \core\task\manager::get_adhoc_tasks(sidecar_call::class);
        $this->assertCount(1, $tasks);
        $task = reset($tasks);
        $this->expectException(sidecar_exception::class);
        $task->execute();
    }

    /**
     * When the sidecar refuses the end (it never heard of the attempt), nothing is queued to try again.
     */
    public function test_refused_end_is_not_queued(): void {
        $attemptobj = $this->begin_attempt();
        $attemptid = (int) $attemptobj->get_attemptid();
        $this->client->json('POST', api::purge(), ['attempt_id' => $attemptid, 'dry_run' => false]);

        self::end_attempt($attemptobj, 'submit');

        $this->assertDebuggingCalled();
        $this->assertSame([], self::queued_calls());
        $this->assertNull($this->known_attempt($attemptid));
    }

    /**
     * Attempts at a quiz without proctoring, and of students exempt from it, are not sent.
     */
    public function test_unproctored_attempts_are_not_sent(): void {
        global $DB;
        $plain = $this->begin_attempt($this->quiz_of_course(false));
        $this->assertNull($this->known_attempt($plain->get_attemptid()));
        self::end_attempt($plain, 'submit');
        $this->assertNull($this->known_attempt($plain->get_attemptid()));

        $role = $DB->get_field('role', 'id', ['shortname' => 'student']);
        assign_capability('quizaccess/proctorpy:bypass', CAP_ALLOW, $role, \context_module::instance($this->quiz->cmid));
        $exempt = $this->begin_attempt();
        $this->assertNull($this->known_attempt($exempt->get_attemptid()));
        self::end_attempt($exempt, 'submit');
        $this->assertNull($this->known_attempt($exempt->get_attemptid()));

        $this->assertSame([], self::queued_calls());
    }

    /**
     * Deleting an attempt, a quiz or a course queues the purge of its data, which the task delivers;
     * with purgeondelete off nothing is queued and the sidecar's retention decides.
     */
    public function test_deletions_queue_purges(): void {
        // An attempt.
        $attemptobj = $this->begin_attempt();
        $attemptid = (int) $attemptobj->get_attemptid();
        self::end_attempt($attemptobj, 'submit');
        quiz_delete_attempt($attemptobj->get_attempt(), $this->quiz);
        $this->assertSame([['POST', api::purge(), ['attempt_id' => $attemptid, 'dry_run' => false,
            'actor_id' => (int) get_admin()->id, 'actor_name' => fullname(get_admin())]]], self::queued_calls());
        $this->assertNotNull($this->known_attempt($attemptid));
        $this->run_queued_calls();
        $this->assertNull($this->known_attempt($attemptid));

        // A quiz (its course module).
        $attemptid = $this->begin_attempt()->get_attemptid();
        course_delete_module($this->quiz->cmid);
        $selections = array_column(array_column(self::queued_calls(), 2), 'quiz_id');
        $this->assertSame([(int) $this->quiz->id], $selections);
        $this->run_queued_calls();
        $this->assertNull($this->known_attempt($attemptid));

        // A course.
        $this->quiz = $this->quiz_of_course(true);
        $attemptid = $this->begin_attempt()->get_attemptid();
        delete_course($this->course, false);
        $selections = array_column(array_column(self::queued_calls(), 2), 'course_id');
        $this->assertSame([(int) $this->course->id], $selections);
        $this->run_queued_calls();
        $this->assertNull($this->known_attempt($attemptid));

        // With purgeondelete off.
        set_config('purgeondelete', 0, 'quizaccess_proctorpy');
        $this->course = $this->getDataGenerator()->create_course();
        $this->getDataGenerator()->enrol_user($this->student->id, $this->course->id, 'student');
        $this->quiz = $this->quiz_of_course(true);
        $attemptobj = $this->begin_attempt();
        quiz_delete_attempt($attemptobj->get_attempt(), $this->quiz);
        course_delete_module($this->quiz->cmid);
        delete_course($this->course, false);
        $this->assertSame([], self::queued_calls());
        $this->assertNotNull($this->known_attempt($attemptobj->get_attemptid()));
    }

    /**
     * Post an event with an upload token straight to the sidecar, as the browser does.
     *
     * @param string $token upload token
     * @param int $attemptid attempt id
     * @param string $key idempotency key
     * @return int HTTP status
     */
    private function post_direct_event(string $token, int $attemptid, string $key): int {
        global $CFG;
        require_once($CFG->libdir . '/filelib.php');
        $curl = new \curl(['ignoresecurity' => true]);
        $curl->setHeader(['Authorization: Bearer ' . $token, 'Content-Type: application/json']);
        $curl->post($this->sidecarurl . '/api/v1/direct/events', json_encode(['attempt_id' => $attemptid,
            'user_id' => (int) $this->student->id, 'type' => 'focus_lost', 'at' => time() * 1000,
            'client_event_id' => 'observer-test-' . $key]));
        return (int) $curl->get_info()['http_code'];
    }
}
