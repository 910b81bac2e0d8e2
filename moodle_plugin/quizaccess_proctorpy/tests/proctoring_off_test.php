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

use mod_quiz\quiz_attempt;
use quizaccess_proctorpy\local\moodle_transport;
use quizaccess_proctorpy\tests\proctorpy_helper;

#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\observer::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy::class)]
/**
 * Tests that an attempt's upload token stops working when the attempt ends, however it ends, and
 * when its quiz stops being proctored, against a live sidecar.
 *
 * The sidecar is named by PROCTORPY_TEST_SIDECAR_URL and PROCTORPY_TEST_SIDECAR_SECRET; without them these tests fail.
 *
 * @package    quizaccess_proctorpy
 * @category   test
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 * @covers     \quizaccess_proctorpy\observer
 * @covers     \quizaccess_proctorpy
 */
final class proctoring_off_test extends \advanced_testcase {
    use proctorpy_helper;

    /** @var sidecar_client the plugin's client of the live sidecar */
    private $client;
    /** @var \stdClass the course */
    private $course;
    /** @var \stdClass a student */
    private $student;

    /**
     * A course with a student, and the live sidecar emptied.
     */
    protected function setUp(): void {
        parent::setUp();
        $this->resetAfterTest();
        $this->client = $this->use_live_sidecar();
        [$this->course, $this->student] = $this->create_course_with_users();
    }

    /**
     * Post a browser event straight to the sidecar with the attempt's upload token, as the capture module does.
     *
     * @param \stdClass $attempt row of quiz_attempts
     * @param string $eventid the event's idempotency key
     * @return response the sidecar's answer
     */
    private function post_with_token(\stdClass $attempt, string $eventid): response {
        $token = direct_upload::token(
            new signer(getenv('PROCTORPY_TEST_SIDECAR_SECRET')),
            (int) $attempt->id,
            (int) $attempt->userid,
            time() + 3600
        );
        $body = json_encode(['attempt_id' => (int) $attempt->id, 'user_id' => (int) $attempt->userid,
            'type' => 'tab_hidden', 'at' => (int) (microtime(true) * 1000), 'client_event_id' => $eventid]);
        return (new moodle_transport(true))->send(
            'POST',
            $this->client->base_url() . '/api/v1/direct/events',
            ['Authorization: Bearer ' . $token, 'Content-Type: application/json'],
            $body,
            10
        );
    }

    /**
     * Assert the sidecar refuses the token because the attempt has ended.
     *
     * @param response $answer the sidecar's answer
     */
    private function assert_attempt_finished(response $answer): void {
        $this->assertSame(409, $answer->status, $answer->body);
        $this->assertSame('attempt_finished', $answer->json()['error']);
    }

    /**
     * How an attempt ends in Moodle.
     *
     * @return array
     */
    public static function endings(): array {
        return ['submitted' => ['submit'], 'abandoned' => ['abandon']];
    }

    /**
     * Once Moodle ends an attempt, its upload token is refused, though it has not expired.
     *
     * @dataProvider endings
     * @param string $how submit or abandon
     */
    #[\PHPUnit\Framework\Attributes\DataProvider('endings')]
    public function test_an_ended_attempt_refuses_its_upload_token(string $how): void {
        $attempt = $this->start_attempt($this->create_quiz($this->course), $this->student);
        $this->assertSame(201, $this->post_with_token($attempt, 'before')->status);
        $attemptobj = quiz_attempt::create($attempt->id);
        $how === 'submit' ? self::submit_attempt($attemptobj, time()) : $attemptobj->process_abandon(time(), false);
        $this->assert_attempt_finished($this->post_with_token($attempt, 'after'));
    }

    /**
     * Switching proctoring off in the quiz settings ends the uploads of the attempts in progress at once;
     * another quiz's attempts go on.
     */
    public function test_switching_proctoring_off_ends_uploads_of_attempts_in_progress(): void {
        $quiz = $this->create_quiz($this->course);
        $attempt = $this->start_attempt($quiz, $this->student);
        $other = $this->start_attempt($this->create_quiz($this->course), $this->student);
        $this->assertSame(201, $this->post_with_token($attempt, 'before')->status);

        $before = time();
        \quizaccess_proctorpy::save_settings((object) ['id' => $quiz->id, 'proctorpy_enabled' => 0]);

        $this->assert_attempt_finished($this->post_with_token($attempt, 'after'));
        $ended = $this->sidecar_attempt($this->client, $attempt->id)['attempt']['finished_at'];
        $this->assertGreaterThanOrEqual($before, $ended);
        $this->assertSame(201, $this->post_with_token($other, 'other')->status);
        $this->assertNull($this->sidecar_attempt($this->client, $other->id)['attempt']['finished_at']);
        $this->assertEquals(
            quiz_attempt::IN_PROGRESS,
            quiz_attempt::create($attempt->id)->get_state(),
            'the attempt itself goes on in Moodle'
        );
    }

    /**
     * Saving a quiz that stays unproctored, or stays proctored, tells the sidecar nothing.
     */
    public function test_saving_without_switching_off_ends_nothing(): void {
        $quiz = $this->create_quiz($this->course);
        $attempt = $this->start_attempt($quiz, $this->student);
        \quizaccess_proctorpy::save_settings((object) ['id' => $quiz->id, 'proctorpy_enabled' => 1,
            'proctorpy_intervalmin' => 20, 'proctorpy_intervalmax' => 40]);
        $this->assertSame(201, $this->post_with_token($attempt, 'still')->status);
        $this->assertNull($this->sidecar_attempt($this->client, $attempt->id)['attempt']['finished_at']);
    }
}
