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

use quizaccess_proctorpy\local\identity_step;
use quizaccess_proctorpy\local\proctored_attempt;
use quizaccess_proctorpy\tests\proctorpy_helper;

#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\local\identity_step::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\event\identity_photo_approved::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\event\identity_photo_refused::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\event\identity_check_waived::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\event\identity_decision::class)]
/**
 * Tests of the identity step against a live sidecar: a pass Moodle missed, and the teacher's decision on the photo of
 * a student with no reference photo to match.
 *
 * @package    quizaccess_proctorpy
 * @category   test
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 * @covers     \quizaccess_proctorpy\local\identity_step
 * @covers     \quizaccess_proctorpy\event\identity_photo_approved
 * @covers     \quizaccess_proctorpy\event\identity_photo_refused
 * @covers     \quizaccess_proctorpy\event\identity_check_waived
 * @covers     \quizaccess_proctorpy\event\identity_decision
 */
final class identity_decision_test extends \advanced_testcase {
    use proctorpy_helper;

    /** @var sidecar_client the plugin's client of the live sidecar */
    private $client;
    /** @var \stdClass the course */
    private $course;
    /** @var \stdClass a student, without a profile picture */
    private $student;
    /** @var \stdClass an editing teacher */
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
     * Have the student follow the identity challenge the sidecar draws, as the check does: the frames of the
     * pytest suite's photo, obama/obama1.jpg, following that challenge.
     *
     * @param \stdClass $attempt row of quiz_attempts
     * @param string $clientshotid idempotency key
     * @return array the sidecar's answer
     */
    private function send_identity_photo(\stdClass $attempt, string $clientshotid): array {
        $proctored = proctored_attempt::load($attempt->id, $this->client);
        $challenge = $proctored->identity_challenge();
        $frames = array_map(fn($frame) => camshot_image::from_base64($frame), $this->challenge_frames($challenge['kind']));
        return $proctored->check_identity($frames, (int) (microtime(true) * 1000), $clientshotid, $challenge['id']);
    }

    /**
     * A pass the sidecar recorded while Moodle's request timed out is found when the step is asked about: the
     * student is not left waiting for a teacher.
     */
    public function test_pending_asks_the_sidecar_for_a_pass_moodle_missed(): void {
        $quiz = $this->create_quiz($this->course, ['identitycheck' => 'face']);
        $attempt = $this->start_attempt($quiz, $this->student);
        $settings = $this->quiz_settings($quiz)->get_quiz();
        $this->assertTrue(identity_step::pending($settings, $attempt->id, $this->client), 'No photo yet');

        // The sidecar passes the photo, but Moodle never hears the answer.
        $this->assertTrue($this->send_identity_photo($attempt, 'id1')['passed']);
        $this->assertNull(identity_step::outcome($attempt->id));

        $this->assertFalse(identity_step::pending($settings, $attempt->id, $this->client));
        $this->assertSame(identity_step::PASSED, identity_step::outcome($attempt->id)->outcome, 'Recorded in Moodle');
    }

    /**
     * A sidecar that does not answer leaves the step pending: the check fails closed.
     */
    public function test_pending_stays_when_the_sidecar_does_not_answer(): void {
        $quiz = $this->create_quiz($this->course, ['identitycheck' => 'face']);
        $attempt = $this->start_attempt($quiz, $this->student);
        $this->send_identity_photo($attempt, 'id1');
        set_config('sidecarurl', 'http://127.0.0.1:9', 'quizaccess_proctorpy');
        $this->assertTrue(identity_step::pending($this->quiz_settings($quiz)->get_quiz(), $attempt->id));
        $this->assertNull(identity_step::outcome($attempt->id));
    }

    /**
     * With no profile photo and a face that must match, the photo does not pass; the teacher sees it beside "no
     * reference", approves it, and the attempt goes on: the outcome names the teacher and an event logs it.
     */
    public function test_teacher_approves_the_photo_of_a_student_without_reference(): void {
        $quiz = $this->create_quiz($this->course, ['identitycheck' => 'match']);
        $attempt = $this->start_attempt($quiz, $this->student);
        $answer = $this->send_identity_photo($attempt, 'id1');
        $this->assertFalse($answer['passed']);
        $this->assertSame('none', $answer['reference']);
        $settings = $this->quiz_settings($quiz)->get_quiz();
        $context = \context_module::instance($quiz->cmid);

        $this->setUser($this->teacher);
        $state = identity_step::report_state($settings, $attempt, $context, $this->client);
        $this->assertSame(get_string('identitystate_noreference', 'quizaccess_proctorpy'), $state['message']);
        $this->assertSame($answer['id'], $state['decide']['photoid']);

        $sink = $this->redirectEvents();
        identity_step::approve(
            $attempt,
            $context,
            (int) $this->teacher->id,
            $state['decide']['photoid'],
            $this->client,
            api::actor((int) $this->teacher->id, fullname($this->teacher))
        );
        $events = $sink->get_events();
        $sink->close();
        $this->assertCount(1, $events);
        $this->assertInstanceOf(event\identity_photo_approved::class, $events[0]);
        $this->assertEquals($attempt->id, $events[0]->objectid);
        $this->assertEquals($this->student->id, $events[0]->relateduserid);
        $this->assertSame($answer['id'], $events[0]->other['photoid']);
        $outcome = identity_step::outcome($attempt->id);
        $this->assertSame([identity_step::APPROVED, (int) $this->teacher->id], [$outcome->outcome, (int) $outcome->waivedby]);
        $this->assertFalse(identity_step::pending($settings, $attempt->id, $this->client));
        $sidecar = identity_step::sidecar_state($attempt->id, $this->client);
        $this->assertSame(['approved', true, 'frozen'], [$sidecar['decision'], $sidecar['passed'], $sidecar['reference']]);
        $state = identity_step::report_state($settings, $attempt, $context, $this->client);
        $this->assertStringContainsString(fullname($this->teacher), $state['message']);
        $this->assertArrayNotHasKey('decide', $state);
    }

    /**
     * A refused photo keeps the step closed: the student sees no question and a new photo is refused by the sidecar;
     * an event logs the decision.
     */
    public function test_teacher_refuses_the_photo_of_a_student_without_reference(): void {
        $quiz = $this->create_quiz($this->course, ['identitycheck' => 'match']);
        $attempt = $this->start_attempt($quiz, $this->student);
        $photoid = $this->send_identity_photo($attempt, 'id1')['id'];
        $settings = $this->quiz_settings($quiz)->get_quiz();
        $context = \context_module::instance($quiz->cmid);

        $this->setUser($this->teacher);
        $sink = $this->redirectEvents();
        identity_step::refuse($attempt, $context, $photoid, $this->client, api::actor((int) $this->teacher->id, 'T'));
        $events = $sink->get_events();
        $sink->close();
        $this->assertCount(1, $events);
        $this->assertInstanceOf(event\identity_photo_refused::class, $events[0]);
        $this->assertSame($photoid, $events[0]->other['photoid']);
        $this->assertTrue(identity_step::pending($settings, $attempt->id, $this->client));
        $this->assertNull(identity_step::outcome($attempt->id));
        $state = identity_step::report_state($settings, $attempt, $context, $this->client);
        $this->assertSame(get_string('identitystate_refused', 'quizaccess_proctorpy'), $state['message']);
        $this->assertArrayNotHasKey('decide', $state);

        $this->setUser($this->student);
        try {
            $this->send_identity_photo($attempt, 'id2');
            $this->fail('A photo after the refusal is refused');
        } catch (sidecar_exception $e) {
            $this->assertSame([409, 'identity_refused'], [$e->status, $e->errorcode]);
        }
        // A second decision on the same photo is refused by the sidecar, and nothing is logged in Moodle.
        $this->setUser($this->teacher);
        $sink = $this->redirectEvents();
        try {
            identity_step::approve($attempt, $context, (int) $this->teacher->id, $photoid, $this->client, []);
            $this->fail('The photo was decided on already');
        } catch (sidecar_exception $e) {
            $this->assertSame('already_decided', $e->errorcode);
        }
        $this->assertCount(0, $sink->get_events());
        $sink->close();
        $this->assertNull(identity_step::outcome($attempt->id));
    }

    /**
     * Every decision's event names the attempt's student and its quiz, a decision on a photo the photo too: a log row
     * without them could not be traced back to what the teacher decided on.
     */
    public function test_a_decision_event_without_what_it_decided_on_is_refused(): void {
        $quiz = $this->create_quiz($this->course, ['identitycheck' => 'match']);
        $attempt = $this->start_attempt($quiz, $this->student);
        $context = \context_module::instance($quiz->cmid);
        $complete = [
            'context' => $context,
            'objectid' => (int) $attempt->id,
            'relateduserid' => (int) $attempt->userid,
            'other' => ['quizid' => (int) $attempt->quiz, 'photoid' => 'p1'],
        ];
        $waived = \quizaccess_proctorpy\event\identity_check_waived::create(
            ['other' => ['quizid' => (int) $attempt->quiz]] + $complete
        );
        $this->assertSame('quiz_attempts', $waived->objecttable);
        $this->assertStringContainsString('/mod/quiz/accessrule/proctorpy/report.php', $waived->get_url()->out(false));
        $approved = \quizaccess_proctorpy\event\identity_photo_approved::create($complete);
        $this->assertSame(['quizid', 'photoid'], array_keys($approved::get_other_mapping()));
        $refusals = [
            'no photo' => [\quizaccess_proctorpy\event\identity_photo_refused::class, ['quizid' => 1], 'photoid'],
            'no quiz' => [\quizaccess_proctorpy\event\identity_check_waived::class, [], 'quizid'],
        ];
        foreach ($refusals as $case => [$class, $other, $missing]) {
            try {
                $class::create(['other' => $other] + $complete);
                $this->fail("$case: created");
            } catch (\coding_exception $error) {
                $this->assertStringContainsString("'$missing'", $error->getMessage(), $case);
            }
        }
        try {
            \quizaccess_proctorpy\event\identity_photo_approved::create(array_diff_key($complete, ['relateduserid' => 0]));
            $this->fail('created without the student');
        } catch (\coding_exception $error) {
            $this->assertStringContainsString('relateduserid', $error->getMessage());
        }
    }
}
