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

use core_privacy\local\request\approved_contextlist;
use core_privacy\local\request\approved_userlist;
use core_privacy\local\request\userlist;
use core_privacy\local\request\writer;
use quizaccess_proctorpy\local\identity_step;
use quizaccess_proctorpy\privacy\provider;
use quizaccess_proctorpy\tests\proctorpy_helper;

defined('MOODLE_INTERNAL') || die();

global $CFG;
require_once($CFG->dirroot . '/mod/quiz/accessrule/proctorpy/rule.php');

#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\local\identity_step::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\event\identity_check_waived::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\privacy\provider::class)]
/**
 * Tests of the identity step decided on the server: no question before it ends, the teacher's waiver, privacy.
 *
 * @package    quizaccess_proctorpy
 * @category   test
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 * @covers     \quizaccess_proctorpy\local\identity_step
 * @covers     \quizaccess_proctorpy
 * @covers     \quizaccess_proctorpy\event\identity_check_waived
 * @covers     \quizaccess_proctorpy\privacy\provider
 */
final class identity_step_test extends \core_privacy\tests\provider_testcase {
    use proctorpy_helper;

    /** @var \stdClass the course */
    private $course;
    /** @var \stdClass a student enrolled in it */
    private $student;
    /** @var \stdClass an editing teacher of it */
    private $teacher;
    /** @var \stdClass a quiz whose attempts start with an identity check */
    private $quiz;

    /**
     * A course with a student and a teacher, and a quiz where a face must be seen at the start.
     */
    protected function setUp(): void {
        parent::setUp();
        $this->resetAfterTest();
        [$this->course, $this->student, $this->teacher] = $this->create_course_with_users();
        $this->quiz = $this->create_quiz($this->course, ['identitycheck' => 'face']);
    }

    /**
     * The rule of the quiz for the current user.
     *
     * @return \quizaccess_proctorpy
     */
    private function rule(): \quizaccess_proctorpy {
        return \quizaccess_proctorpy::make($this->quiz_settings($this->quiz), time(), false);
    }

    /**
     * The quiz with its proctoring settings.
     *
     * @return \stdClass
     */
    private function settings(): \stdClass {
        return $this->quiz_settings($this->quiz)->get_quiz();
    }

    /**
     * Start the student's attempt without a sidecar, with consent given in this session.
     *
     * @return \stdClass row of quiz_attempts
     */
    private function attempt_after_consent(): \stdClass {
        $sink = $this->redirectEvents();
        $attempt = $this->start_attempt($this->quiz, $this->student);
        $sink->close();
        $this->rule()->notify_preflight_check_passed(null);
        return $attempt;
    }

    /**
     * With consent given, an attempt still asks for the pre-flight check until its identity step has ended on the
     * server, whatever the session says; Moodle's attempt page sends the student back to it meanwhile.
     */
    public function test_preflight_check_is_required_until_the_step_ends(): void {
        global $SESSION;
        $attempt = $this->attempt_after_consent();
        $this->assertFalse($this->rule()->is_preflight_check_required(null), 'Consent alone is given');
        $this->assertTrue($this->rule()->is_preflight_check_required($attempt->id));
        $this->assertTrue($this->quiz_settings($this->quiz)->get_access_manager(time())
            ->is_preflight_check_required($attempt->id), 'attempt.php redirects to the pre-flight check');
        // Nothing the browser can set in the session ends the step.
        $SESSION->quizaccess_proctorpy_identity[$attempt->id] = true;
        $this->assertTrue($this->rule()->is_preflight_check_required($attempt->id));

        identity_step::record_pass($attempt->id);
        $this->assertFalse($this->rule()->is_preflight_check_required($attempt->id));
    }

    /**
     * A quiz without identity check has no identity step; staff with the bypass capability never see one.
     */
    public function test_no_step_without_identity_check_or_for_exempt_staff(): void {
        $this->quiz = $this->create_quiz($this->course, ['identitycheck' => 'none']);
        $attempt = $this->attempt_after_consent();
        $this->assertFalse($this->rule()->is_preflight_check_required($attempt->id));
        $this->assertFalse(identity_step::pending($this->settings(), $attempt->id));

        $this->quiz = $this->create_quiz($this->course, ['identitycheck' => 'match']);
        $sink = $this->redirectEvents();
        $preview = $this->start_attempt($this->quiz, $this->teacher);
        $sink->close();
        $this->assertFalse($this->rule()->is_preflight_check_required($preview->id));
    }

    /**
     * Sending the pre-flight form (or the web services' pre-flight data) does not end the step: it is refused
     * with a sentence that says what to do, until a photo passed or a teacher let the attempt go on.
     */
    public function test_validate_preflight_check_refuses_until_the_step_ends(): void {
        $attempt = $this->attempt_after_consent();
        $manager = $this->quiz_settings($this->quiz)->get_access_manager(time());
        $forged = ['proctorpy_consent' => 1, 'proctorpy_camera' => 1, 'proctorpy_identity' => 1];
        $this->assertSame(
            ['proctorpy_identity' => get_string('err_identitypending', 'quizaccess_proctorpy')],
            $manager->validate_preflight_check($forged, [], $attempt->id)
        );

        identity_step::waive($attempt, \context_module::instance($this->quiz->cmid), (int) $this->teacher->id);
        $this->assertSame([], $manager->validate_preflight_check($forged, [], $attempt->id));
    }

    /**
     * The identity step's form has the photo button and no second consent box, and tells the module the attempt.
     */
    public function test_identity_step_form(): void {
        global $PAGE;
        $attempt = $this->attempt_after_consent();
        $PAGE->set_url('/mod/quiz/startattempt.php', ['cmid' => $this->quiz->cmid]);
        $PAGE->set_context(\context_module::instance($this->quiz->cmid));
        $form = $this->quiz_settings($this->quiz)->get_access_manager(time())->get_preflight_check_form(
            new \moodle_url('/mod/quiz/startattempt.php', ['cmid' => $this->quiz->cmid]),
            (int) $attempt->id
        );
        $mform = (new \ReflectionProperty($form, '_form'))->getValue($form);
        $this->assertFalse($mform->elementExists('proctorpy_consent'));
        $this->assertTrue($mform->elementExists('proctorpy_identity'));
        $html = $form->render();
        $this->assertStringContainsString('data-action="takephoto"', $html);
        $this->assertStringContainsString(get_string('identitytitle', 'quizaccess_proctorpy'), $html);
        $this->assertStringNotContainsString('This quiz is proctored.', $html);
        $code = implode("\n", (new \ReflectionProperty($PAGE->requires, 'amdjscode'))->getValue($PAGE->requires));
        $width = (int) $this->settings()->proctorpy_imagewidth;
        $this->assertMatchesRegularExpression("~amd\\.init\\({$attempt->id}, {$width}, \\d{13}\\)~", $code);
    }

    /**
     * A teacher's waiver ends the step once, is kept with the teacher's id and is logged as an event.
     */
    public function test_waiver_is_recorded_once_and_logged(): void {
        $attempt = $this->attempt_after_consent();
        $context = \context_module::instance($this->quiz->cmid);
        $this->setUser($this->teacher);
        $sink = $this->redirectEvents();
        $this->assertTrue(identity_step::waive($attempt, $context, (int) $this->teacher->id));
        $this->assertFalse(identity_step::waive($attempt, $context, (int) $this->teacher->id), 'The step ended already');
        $events = $sink->get_events();
        $sink->close();
        $this->assertCount(1, $events);
        $event = $events[0];
        $this->assertInstanceOf(event\identity_check_waived::class, $event);
        $this->assertEquals($attempt->id, $event->objectid);
        $this->assertEquals($this->student->id, $event->relateduserid);
        $this->assertEquals($this->teacher->id, $event->userid);
        $this->assertEquals($context, $event->get_context());
        $this->assertStringContainsString('attempt=' . $attempt->id, $event->get_url()->out(false));

        $outcome = identity_step::outcome($attempt->id);
        $this->assertSame([identity_step::WAIVED, (int) $this->teacher->id], [$outcome->outcome, (int) $outcome->waivedby]);
        identity_step::record_pass($attempt->id);
        $this->assertSame(identity_step::WAIVED, identity_step::outcome($attempt->id)->outcome, 'The first outcome stays');
    }

    /**
     * The attempt report says how the step stands; only a user with the capability may let the attempt go on.
     */
    public function test_report_state_and_capability(): void {
        $attempt = $this->attempt_after_consent();
        $context = \context_module::instance($this->quiz->cmid);
        $row = (object) ['id' => $attempt->id, 'userid' => $attempt->userid, 'state' => $attempt->state];
        $this->setUser($this->teacher);
        $state = identity_step::report_state($this->settings(), $row, $context);
        $this->assertSame(['warning', true], [$state['kind'], $state['canwaive']]);

        $roleid = $this->getDataGenerator()->create_role();
        assign_capability('quizaccess/proctorpy:viewreport', CAP_ALLOW, $roleid, $context->id);
        $viewer = $this->getDataGenerator()->create_user();
        $this->getDataGenerator()->role_assign($roleid, $viewer->id, $context->id);
        $this->setUser($viewer);
        $this->assertFalse(identity_step::report_state($this->settings(), $row, $context)['canwaive']);

        identity_step::waive($attempt, $context, (int) $this->teacher->id);
        $state = identity_step::report_state($this->settings(), $row, $context);
        $this->assertStringContainsString(fullname($this->teacher), $state['message']);
        $this->assertArrayNotHasKey('canwaive', $state);
    }

    /**
     * The overview lists the students waiting at the identity check, within the groups the viewer may see.
     */
    public function test_waiting_students_respect_groups(): void {
        $generator = $this->getDataGenerator();
        $other = $generator->create_and_enrol($this->course, 'student');
        $group = $generator->create_group(['courseid' => $this->course->id]);
        $generator->create_group_member(['groupid' => $group->id, 'userid' => $other->id]);
        $first = $this->attempt_after_consent();
        $sink = $this->redirectEvents();
        $second = $this->start_attempt($this->quiz, $other);
        $sink->close();
        identity_step::record_pass($first->id);
        $this->assertSame([(int) $second->id], array_map('intval', array_column(identity_step::waiting(
            $this->settings(),
            null
        ), 'id')));
        $this->assertSame([], identity_step::waiting($this->settings(), [(int) $this->student->id]));
        $this->assertSame([], identity_step::waiting($this->settings(), []));
    }

    /**
     * The outcome goes with its attempt, and with a deleted quiz.
     */
    public function test_outcome_is_deleted_with_the_attempt_and_the_quiz(): void {
        global $DB;
        $this->use_live_sidecar();
        $attempt = $this->start_attempt($this->quiz, $this->student);
        identity_step::record_pass($attempt->id);
        quiz_delete_attempt($attempt, $this->quiz);
        $this->assertFalse($DB->record_exists('quizaccess_proctorpy_idcheck', ['attemptid' => $attempt->id]));

        $attempt = $this->start_attempt($this->quiz, $this->student);
        identity_step::record_pass($attempt->id);
        $this->setAdminUser();
        course_delete_module($this->quiz->cmid);
        $this->assertFalse($DB->record_exists('quizaccess_proctorpy_idcheck', ['attemptid' => $attempt->id]));
    }

    /**
     * Privacy: the student's outcome and the teacher's waiver are found, exported and deleted in the quiz's context.
     */
    public function test_privacy_of_outcomes_and_waivers(): void {
        global $DB;
        $this->use_live_sidecar();
        $attempt = $this->start_attempt($this->quiz, $this->student);
        $context = \context_module::instance($this->quiz->cmid);
        identity_step::waive($attempt, $context, (int) $this->teacher->id);

        $this->assertContains(
            (int) $context->id,
            array_map('intval', provider::get_contexts_for_userid((int) $this->teacher->id)->get_contextids())
        );
        $userlist = new userlist($context, 'quizaccess_proctorpy');
        provider::get_users_in_context($userlist);
        $this->assertEqualsCanonicalizing(
            [(int) $this->student->id, (int) $this->teacher->id],
            array_map('intval', $userlist->get_userids())
        );

        provider::export_user_data(new approved_contextlist($this->teacher, 'quizaccess_proctorpy', [$context->id]));
        $exported = writer::with_context($context)->get_data([get_string('pluginname', 'quizaccess_proctorpy'),
            get_string('identitytitle', 'quizaccess_proctorpy')]);
        $this->assertSame('waived', $exported->checks[0]['outcome']);
        $this->assertSame(get_string('yes'), $exported->checks[0]['waivedbyyou']);
        $this->assertSame(get_string('no'), $exported->checks[0]['yourattempt']);

        // The teacher's deletion keeps the outcome without the teacher; the student's deletion removes it.
        provider::delete_data_for_user(new approved_contextlist($this->teacher, 'quizaccess_proctorpy', [$context->id]));
        $this->assertEquals(0, $DB->get_field('quizaccess_proctorpy_idcheck', 'waivedby', ['attemptid' => $attempt->id]));
        provider::delete_data_for_users(new approved_userlist($context, 'quizaccess_proctorpy', [$this->student->id]));
        $this->assertFalse($DB->record_exists('quizaccess_proctorpy_idcheck', ['attemptid' => $attempt->id]));
    }
}
