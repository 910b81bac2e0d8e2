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

use core_external\external_api;
use quizaccess_proctorpy\tests\proctorpy_helper;

#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\external\upload_camshot::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\external\send_event::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\external\check_identity::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\external\get_identity_challenge::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\external\forwarding::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\local\proctored_attempt::class)]
/**
 * Tests of the capture module's external functions, against a live sidecar.
 *
 * The sidecar is named by PROCTORPY_TEST_SIDECAR_URL and PROCTORPY_TEST_SIDECAR_SECRET; without them these tests fail.
 *
 * @package    quizaccess_proctorpy
 * @category   test
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 * @covers     \quizaccess_proctorpy\external\upload_camshot
 * @covers     \quizaccess_proctorpy\external\send_event
 * @covers     \quizaccess_proctorpy\external\check_identity
 * @covers     \quizaccess_proctorpy\external\get_identity_challenge
 * @covers     \quizaccess_proctorpy\external\forwarding
 * @covers     \quizaccess_proctorpy\local\proctored_attempt
 */
final class external_test extends \advanced_testcase {
    use proctorpy_helper;

    /** @var sidecar_client the plugin's client of the live sidecar */
    private $client;
    /** @var \stdClass the course */
    private $course;
    /** @var \stdClass a student */
    private $student;
    /** @var \stdClass the proctored quiz */
    private $quiz;

    /**
     * A proctored quiz in a course, and the live sidecar emptied.
     */
    protected function setUp(): void {
        parent::setUp();
        $this->resetAfterTest();
        $this->client = $this->use_live_sidecar();
        [$this->course, $this->student] = $this->create_course_with_users();
        $this->quiz = $this->create_quiz($this->course);
    }

    /**
     * Call an external function as the browser's AJAX request does.
     *
     * @param string $name function name without the component prefix
     * @param array $args arguments
     * @return array data, or the exception's errorcode, message and debuginfo
     */
    private static function call(string $name, array $args): array {
        // As lib/ajax/service.php receives it: the session key travels with every AJAX request.
        $_POST['sesskey'] = sesskey();
        $answer = external_api::call_external_function('quizaccess_proctorpy_' . $name, $args, true);
        if (!empty($answer['error'])) {
            $e = $answer['exception'];
            return ['error' => $e->errorcode, 'message' => $e->message, 'debuginfo' => $e->debuginfo ?? ''];
        }
        return $answer['data'];
    }

    /**
     * Arguments of an upload.
     *
     * @param int $attemptid the attempt
     * @param string $image base64 image
     * @param string $clientshotid idempotency key
     * @param string $kind camshot kind
     * @return array
     */
    private static function upload_args(
        int $attemptid,
        string $image,
        string $clientshotid = 'shot1',
        string $kind = 'attempt'
    ): array {
        return ['attemptid' => $attemptid, 'takenat' => (int) (microtime(true) * 1000), 'clientshotid' => $clientshotid,
            'kind' => $kind, 'image' => $image];
    }

    /**
     * The functions are declared for AJAX, with a login required.
     */
    public function test_functions_are_declared(): void {
        foreach (['upload_camshot', 'send_event', 'check_identity', 'get_identity_challenge'] as $name) {
            $info = external_api::external_function_info('quizaccess_proctorpy_' . $name);
            $this->assertSame('quizaccess_proctorpy\\external\\' . $name, $info->classname);
            $this->assertTrue((bool) $info->allowed_from_ajax, $name);
            $this->assertTrue((bool) $info->loginrequired, $name);
        }
    }

    /**
     * The attempt registered when it started, with its quiz and course; the owner's camshot reaches the sidecar once.
     */
    public function test_upload_camshot_reaches_the_sidecar(): void {
        $attempt = $this->start_attempt($this->quiz, $this->student);
        $registered = $this->sidecar_attempt($this->client, $attempt->id)['attempt'];
        $this->assertEquals($this->student->id, $registered['user_id']);
        $this->assertSame('Émile Zoë', $registered['user_fullname']);
        $this->assertEquals($this->quiz->id, $registered['quiz_id']);
        $this->assertEquals($this->quiz->cmid, $registered['cm_id']);
        $this->assertEquals($this->course->id, $registered['course_id']);

        $png = base64_encode(self::image_bytes());
        $answer = self::call('upload_camshot', self::upload_args($attempt->id, $png));
        $this->assertArrayNotHasKey('error', $answer);
        $this->assertNotEmpty($answer['id']);
        $again = self::call('upload_camshot', self::upload_args($attempt->id, $png));
        $this->assertSame($answer['id'], $again['id'], 'A retry with the same client shot id is the same camshot');
        $jpeg = self::call('upload_camshot', self::upload_args(
            $attempt->id,
            'data:image/jpeg;base64,' . base64_encode(self::image_bytes(320, 240, 'jpeg')),
            'shot2'
        ));
        $this->assertArrayNotHasKey('error', $jpeg);

        $shots = $this->sidecar_attempt($this->client, $attempt->id)['shots'];
        $this->assertEqualsCanonicalizing([$answer['id'], $jpeg['id']], array_column($shots, 'id'));
        $this->assertSame(['attempt', 'attempt'], array_column($shots, 'kind'));
    }

    /**
     * A camshot for an attempt the sidecar does not know (its registration failed, or it was purged) registers it first.
     */
    public function test_upload_camshot_registers_an_unknown_attempt(): void {
        $attempt = $this->start_attempt($this->quiz, $this->student);
        $this->client->json('POST', api::purge(), ['attempt_id' => (int) $attempt->id, 'dry_run' => false]);
        $answer = self::call('upload_camshot', self::upload_args($attempt->id, base64_encode(self::image_bytes())));
        $this->assertArrayNotHasKey('error', $answer);
        $detail = $this->sidecar_attempt($this->client, $attempt->id);
        $this->assertEquals($this->student->id, $detail['attempt']['user_id']);
        $this->assertSame([$answer['id']], array_column($detail['shots'], 'id'));
    }

    /**
     * Another student cannot post camshots or events into someone's attempt.
     */
    public function test_another_students_attempt_is_refused(): void {
        $attempt = $this->start_attempt($this->quiz, $this->student);
        $this->setUser($this->getDataGenerator()->create_and_enrol($this->course, 'student'));
        $png = base64_encode(self::image_bytes());
        $this->assertSame('err_notyourattempt', self::call('upload_camshot', self::upload_args($attempt->id, $png))['error']);
        $this->assertSame('err_notyourattempt', self::call('send_event', ['attemptid' => $attempt->id,
            'type' => 'focus_lost', 'at' => (int) (microtime(true) * 1000), 'clienteventid' => 'ev1'])['error']);
        $this->assertSame('err_notyourattempt', self::call('check_identity', ['attemptid' => $attempt->id,
            'takenat' => (int) (microtime(true) * 1000), 'clientshotid' => 'id1', 'challengeid' => 'c1',
            'frames' => array_fill(0, 6, $png)])['error']);
        $this->assertSame('err_notyourattempt', self::call('get_identity_challenge', ['attemptid' => $attempt->id])['error']);
        $this->assertSame([], $this->sidecar_attempt($this->client, $attempt->id)['shots']);
    }

    /**
     * Nothing more is accepted for a submitted attempt.
     */
    public function test_finished_attempt_is_refused(): void {
        $attempt = $this->start_attempt($this->quiz, $this->student);
        $this->finish_attempt($attempt);
        $answer = self::call('upload_camshot', self::upload_args($attempt->id, base64_encode(self::image_bytes())));
        $this->assertSame('err_attemptnotinprogress', $answer['error']);
        $this->assertSame(get_string('err_attemptnotinprogress', 'quizaccess_proctorpy'), $answer['message']);
        $this->assertSame('err_attemptnotinprogress', self::call('send_event', ['attemptid' => $attempt->id,
            'type' => 'focus_lost', 'at' => (int) (microtime(true) * 1000), 'clienteventid' => 'ev1'])['error']);
    }

    /**
     * An attempt at a quiz without proctoring is not forwarded.
     */
    public function test_quiz_without_proctoring_is_refused(): void {
        $attempt = $this->start_attempt($this->create_quiz($this->course, null), $this->student);
        $answer = self::call('upload_camshot', self::upload_args($attempt->id, base64_encode(self::image_bytes())));
        $this->assertSame('err_notproctored', $answer['error']);
        $this->assertSame('err_notproctored', self::call('send_event', ['attemptid' => $attempt->id,
            'type' => 'focus_lost', 'at' => (int) (microtime(true) * 1000), 'clienteventid' => 'ev1'])['error']);
    }

    /**
     * An attempt at a quiz whose proctoring the teacher switched off is not forwarded.
     */
    public function test_quiz_with_proctoring_switched_off_is_refused(): void {
        global $DB;
        $attempt = $this->start_attempt($this->quiz, $this->student);
        $DB->set_field('quizaccess_proctorpy', 'enabled', 0, ['quizid' => $this->quiz->id]);
        $answer = self::call('upload_camshot', self::upload_args($attempt->id, base64_encode(self::image_bytes())));
        $this->assertSame('err_notproctored', $answer['error']);
        $this->assertSame([], $this->sidecar_attempt($this->client, $attempt->id)['shots']);
    }

    /**
     * The student's own attempt in progress is refused once the quiz is hidden from students: the camshot is
     * forwarded only after Moodle's login to the quiz's course module.
     */
    public function test_hidden_quiz_is_refused(): void {
        $attempt = $this->start_attempt($this->quiz, $this->student);
        set_coursemodule_visible($this->quiz->cmid, 0);
        $answer = self::call('upload_camshot', self::upload_args($attempt->id, base64_encode(self::image_bytes())));
        $this->assertSame('requireloginerror', $answer['error']);
        $this->assertSame('requireloginerror', self::call('send_event', ['attemptid' => $attempt->id,
            'type' => 'focus_lost', 'at' => (int) (microtime(true) * 1000), 'clienteventid' => 'ev1'])['error']);
        $this->assertSame([], $this->sidecar_attempt($this->client, $attempt->id)['shots']);
    }

    /**
     * An attempt id that does not exist is refused.
     */
    public function test_unknown_attempt_is_refused(): void {
        $this->setUser($this->student);
        $answer = self::call('upload_camshot', self::upload_args(987654, base64_encode(self::image_bytes())));
        $this->assertSame('invalidrecordunknown', $answer['error']);
    }

    /**
     * The checked attempt loads its quiz, with its proctoring settings and the owner's overrides, when asked.
     */
    public function test_checked_attempt_loads_its_quiz_with_the_owners_overrides(): void {
        $attempt = $this->start_attempt($this->quiz, $this->student);
        $timeclose = time() + 7200;
        \mod_quiz\quiz_settings::create($this->quiz->id)->get_override_manager()->save_override(
            ['userid' => $this->student->id, 'timeclose' => $timeclose]
        );
        $proctored = local\proctored_attempt::for_current_user($attempt->id);
        $this->assertEquals($attempt->id, $proctored->attempt->id);
        $this->assertFalse(property_exists($proctored->attempt, 'proctorpy_cmid'));
        $this->assertFalse(property_exists($proctored->attempt, 'ctxid'));
        $quiz = $proctored->quiz_settings()->get_quiz();
        $this->assertEquals($this->quiz->id, $quiz->id);
        $this->assertEquals($timeclose, $quiz->timeclose);
        $this->assertTrue(proctoring_settings::is_enabled($quiz));
        $this->assertEquals($this->quiz->cmid, $proctored->quiz_settings()->get_cmid());
    }

    /**
     * A user without access to the quiz's course is refused before anything else.
     */
    public function test_user_outside_the_course_is_refused(): void {
        $attempt = $this->start_attempt($this->quiz, $this->student);
        $this->setUser($this->getDataGenerator()->create_user());
        $answer = self::call('upload_camshot', self::upload_args($attempt->id, base64_encode(self::image_bytes())));
        $this->assertSame('requireloginerror', $answer['error']);
    }

    /**
     * Data for images the plugin refuses before calling the sidecar.
     *
     * @return array image text and the reason's string id
     */
    public static function bad_image_provider(): array {
        return [
            'not base64' => ['this is not base64 !', 'err_imagenotbase64'],
            'empty' => ['', 'err_imagenotbase64'],
            'not an image' => [base64_encode('GIF89a and then some text'), 'err_imagetype'],
            'too large' => [base64_encode("\x89PNG\r\n\x1a\n" . str_repeat("\0", camshot_image::MAX_BYTES + 1)),
                'err_imagetoolarge'],
        ];
    }

    /**
     * Images that are not a PNG or JPEG of an acceptable size are refused, saying why.
     *
     * @dataProvider bad_image_provider
     * @param string $image the image field
     * @param string $reason expected string id
     */
    #[\PHPUnit\Framework\Attributes\DataProvider('bad_image_provider')]
    public function test_bad_image_is_refused(string $image, string $reason): void {
        $attempt = $this->start_attempt($this->quiz, $this->student);
        $answer = self::call('upload_camshot', self::upload_args($attempt->id, $image));
        $this->assertSame('invalidparameter', $answer['error']);
        $this->assertStringContainsString(get_string($reason, 'quizaccess_proctorpy'), $answer['debuginfo']);
        $this->assertSame([], $this->sidecar_attempt($this->client, $attempt->id)['shots']);
    }

    /**
     * A truncated PNG passes the plugin's quick check and is refused by the sidecar's decoder, as a final refusal.
     */
    public function test_truncated_image_is_refused_by_the_sidecar(): void {
        $attempt = $this->start_attempt($this->quiz, $this->student);
        $truncated = substr(self::image_bytes(), 0, 120);
        $answer = self::call('upload_camshot', self::upload_args($attempt->id, base64_encode($truncated)));
        $this->assertSame('sidecarrefused', $answer['error']);
        $this->assertStringStartsWith('The proctoring sidecar refused the request: ', $answer['message']);
        $this->assertSame([], $this->sidecar_attempt($this->client, $attempt->id)['shots']);
    }

    /**
     * An unknown kind or an overlong idempotency key is refused.
     */
    public function test_bad_upload_fields_are_refused(): void {
        $attempt = $this->start_attempt($this->quiz, $this->student);
        $png = base64_encode(self::image_bytes());
        $this->assertSame('invalidparameter', self::call(
            'upload_camshot',
            self::upload_args($attempt->id, $png, 'shot1', 'screen')
        )['error']);
        $this->assertSame('invalidparameter', self::call(
            'upload_camshot',
            self::upload_args($attempt->id, $png, str_repeat('a', 65))
        )['error']);
        $this->assertSame('invalidparameter', self::call(
            'upload_camshot',
            self::upload_args($attempt->id, $png, 'not/alphanumeric')
        )['error']);
    }

    /**
     * Every event type the capture module sends reaches the sidecar, once per client event id.
     */
    public function test_send_event_reaches_the_sidecar(): void {
        $attempt = $this->start_attempt($this->quiz, $this->student);
        $at = (int) (microtime(true) * 1000);
        foreach (vocabulary::EVENT_TYPES as $i => $type) {
            $answer = self::call('send_event', ['attemptid' => $attempt->id, 'type' => $type, 'at' => $at + $i,
                'clienteventid' => 'ev' . $i]);
            $this->assertSame(['accepted' => true], $answer, $type);
        }
        $this->assertSame(['accepted' => true], self::call('send_event', ['attemptid' => $attempt->id,
            'type' => vocabulary::EVENT_TYPES[0], 'at' => $at, 'clienteventid' => 'ev0']), 'A retry is accepted');
        $events = $this->sidecar_attempt($this->client, $attempt->id)['events'];
        $this->assertSame(vocabulary::EVENT_TYPES, array_column($events, 'type'));
    }

    /**
     * An event type the sidecar does not know is refused by the plugin.
     */
    public function test_unknown_event_type_is_refused(): void {
        $attempt = $this->start_attempt($this->quiz, $this->student);
        $answer = self::call('send_event', ['attemptid' => $attempt->id, 'type' => 'keystroke',
            'at' => (int) (microtime(true) * 1000), 'clienteventid' => 'ev1']);
        $this->assertSame('invalidparameter', $answer['error']);
        $this->assertStringContainsString('Unknown event type', $answer['debuginfo']);
        $this->assertSame([], $this->sidecar_attempt($this->client, $attempt->id)['events']);
    }

    /**
     * Without an identity check there is no identity step: no challenge is drawn, frames are refused, and nothing
     * reaches the sidecar.
     */
    public function test_check_identity_without_check_is_refused(): void {
        $attempt = $this->start_attempt($this->quiz, $this->student);
        $this->assertSame('err_identitystepover', self::call('get_identity_challenge', ['attemptid' => $attempt->id])['error']);
        $answer = self::call('check_identity', self::identity_args($attempt->id, 'c1', array_fill(0, 6, base64_encode(
            self::image_bytes()
        ))));
        $this->assertSame('err_identitystepover', $answer['error']);
        $this->assertSame([], $this->sidecar_attempt($this->client, $attempt->id)['shots']);
    }

    /**
     * Arguments of an identity check.
     *
     * @param int $attemptid the attempt
     * @param string $challengeid the challenge followed
     * @param string[] $frames base64 images
     * @param int $later milliseconds after now the frames were taken
     * @return array
     */
    private static function identity_args(int $attemptid, string $challengeid, array $frames, int $later = 0): array {
        return ['attemptid' => $attemptid, 'takenat' => (int) (microtime(true) * 1000) + $later,
            'clientshotid' => 'id' . $later, 'challengeid' => $challengeid, 'frames' => $frames];
    }

    /**
     * A still picture fails the sidecar's liveness check with its sentence and the step goes on; frames that follow
     * the challenge the sidecar drew end it on the server, and no challenge is drawn after that.
     */
    public function test_check_identity_ends_the_step_on_the_server(): void {
        $quiz = $this->create_quiz($this->course, ['identitycheck' => 'face']);
        $attempt = $this->start_attempt($quiz, $this->student);
        $settings = $this->quiz_settings($quiz)->get_quiz();
        $challenge = self::call('get_identity_challenge', ['attemptid' => $attempt->id]);
        $this->assertFalse($challenge['waiting']);
        $this->assertSame(6, $challenge['frames']);
        $still = array_fill(0, 6, base64_encode(self::image_bytes()));
        $answer = self::call('check_identity', self::identity_args($attempt->id, $challenge['challengeid'], $still));
        $this->assertArrayNotHasKey('error', $answer);
        $this->assertFalse($answer['passed']);
        $this->assertStringContainsString('still picture', $answer['message']);
        $this->assertSame(2, $answer['refusalsleft']);
        $this->assertTrue(local\identity_step::pending($settings, $attempt->id));

        $challenge = self::call('get_identity_challenge', ['attemptid' => $attempt->id]);
        // The instruction tells which challenge the sidecar drew.
        $drawn = array_filter(external\get_identity_challenge::CHALLENGES, fn($kind) =>
            get_string('challenge_' . $kind, 'quizaccess_proctorpy') === $challenge['instruction']);
        $this->assertCount(1, $drawn, $challenge['instruction']);
        $kind = reset($drawn);
        $frames = $this->challenge_frames($kind);
        $answer = self::call('check_identity', self::identity_args($attempt->id, $challenge['challengeid'], $frames, 1000));
        $this->assertTrue($answer['passed'], $answer['message'] ?? '');
        $this->assertFalse(local\identity_step::pending($settings, $attempt->id));
        $this->assertSame(local\identity_step::PASSED, local\identity_step::outcome($attempt->id)->outcome);

        $this->assertSame('err_identitystepover', self::call('get_identity_challenge', ['attemptid' => $attempt->id])['error']);
        $late = self::call('check_identity', self::identity_args($attempt->id, $challenge['challengeid'], $frames, 2000));
        $this->assertSame('err_identitystepover', $late['error']);
        $shots = $this->sidecar_attempt($this->client, $attempt->id)['shots'];
        $this->assertSame(['identity'], array_column($shots, 'kind'));
    }

    /**
     * After three refused checks no challenge is drawn: the student is told to wait for the teacher.
     */
    public function test_after_three_refusals_the_student_waits_for_the_teacher(): void {
        $quiz = $this->create_quiz($this->course, ['identitycheck' => 'face']);
        $attempt = $this->start_attempt($quiz, $this->student);
        $still = array_fill(0, 6, base64_encode(self::image_bytes()));
        for ($n = 1; $n <= 3; $n++) {
            $challenge = self::call('get_identity_challenge', ['attemptid' => $attempt->id]);
            $answer = self::call('check_identity', self::identity_args($attempt->id, $challenge['challengeid'], $still, $n));
            $this->assertSame(3 - $n, $answer['refusalsleft']);
        }
        $waiting = self::call('get_identity_challenge', ['attemptid' => $attempt->id]);
        $this->assertTrue($waiting['waiting']);
        $this->assertSame(get_string('identitywaitteacher', 'quizaccess_proctorpy'), $waiting['message']);
        $this->assertSame('', $waiting['challengeid']);
    }

    /**
     * An identity photo never travels as a camshot of the attempt: it could become the attempt's reference.
     */
    public function test_upload_camshot_refuses_an_identity_photo(): void {
        $quiz = $this->create_quiz($this->course, ['identitycheck' => 'face']);
        $attempt = $this->start_attempt($quiz, $this->student);
        $answer = self::call('upload_camshot', self::upload_args(
            $attempt->id,
            base64_encode(self::image_bytes()),
            'shot1',
            'identity'
        ));
        $this->assertSame('invalidparameter', $answer['error']);
        $this->assertStringContainsString('check_identity', $answer['debuginfo']);
        $this->assertSame([], $this->sidecar_attempt($this->client, $attempt->id)['shots']);
    }
}
