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
use quizaccess_proctorpy\local\identity_step;
use quizaccess_proctorpy\tests\proctorpy_helper;

defined('MOODLE_INTERNAL') || die();

global $CFG;
require_once($CFG->dirroot . '/mod/quiz/accessrule/proctorpy/rule.php');
require_once($CFG->dirroot . '/mod/quiz/locallib.php');

#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(identity_step::class)]
/**
 * An attempt Moodle 5.0+ created ahead of the quiz (its precreate setting) starts as any other does: consent and
 * camera first, then the identity step once it has started, which a teacher may waive.
 *
 * Moodle 4.5 creates no attempt before the student starts one: there the same journey through startattempt.php
 * begins without an attempt, as it always has.
 *
 * @package    quizaccess_proctorpy
 * @category   test
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 * @covers     \quizaccess_proctorpy
 * @covers     \quizaccess_proctorpy\local\identity_step
 */
final class precreated_attempt_test extends \advanced_testcase {
    use proctorpy_helper;

    /** @var \stdClass the course */
    private $course;
    /** @var \stdClass a student enrolled in it */
    private $student;
    /** @var \stdClass an editing teacher of it */
    private $teacher;
    /** @var \stdClass a proctored quiz with an identity check, opening in half an hour */
    private $quiz;

    /**
     * A course with a student and a teacher, and a proctored quiz that opens soon, whose attempts Moodle 5.0+
     * creates ahead.
     */
    protected function setUp(): void {
        parent::setUp();
        $this->resetAfterTest();
        [$this->course, $this->student, $this->teacher] = $this->create_course_with_users();
        $fields = ['timeopen' => time() + 30 * MINSECS];
        if (self::attempts_created_ahead()) {
            set_config('precreateperiod', HOURSECS, 'quiz');
            $fields['precreateattempts'] = 1;
        }
        $this->quiz = $this->create_quiz($this->course, ['identitycheck' => 'face'], $fields);
    }

    /**
     * Whether this Moodle can create attempts ahead of a quiz (5.0 and later).
     *
     * @return bool
     */
    private static function attempts_created_ahead(): bool {
        return class_exists(\mod_quiz\task\precreate_attempts::class);
    }

    /**
     * Run Moodle's scheduled task that creates attempts ahead, where there is one.
     *
     * @return \stdClass[] the quiz's attempts afterwards
     */
    private function run_precreate_task(): array {
        global $DB;
        if (self::attempts_created_ahead()) {
            ob_start();
            (new \mod_quiz\task\precreate_attempts())->execute();
            $this->assertStringContainsString('Created 1 attempts for Midterm', ob_get_clean());
        }
        return $DB->get_records('quiz_attempts', ['quiz' => $this->quiz->id]);
    }

    /**
     * What startattempt.php asks Moodle before its pre-flight check, as the current user.
     *
     * @return array [current attempt id or null, next attempt number, last attempt, access messages]
     */
    private function startattempt_state(): array {
        $quizobj = $this->quiz_settings($this->quiz);
        [$currentid, $number, $last, $messages] = quiz_validate_new_attempt(
            $quizobj,
            $quizobj->get_access_manager(time()),
            false,
            -1,
            false
        );
        return [$currentid ? (int) $currentid : null, $number, $last, $messages];
    }

    /**
     * The pre-flight form startattempt.php would show for an attempt (or none), as QuickForm.
     *
     * @param int|null $attemptid the attempt startattempt.php passes
     * @return \MoodleQuickForm
     */
    private function preflight_form(?int $attemptid): \MoodleQuickForm {
        global $PAGE;
        $url = new \moodle_url('/mod/quiz/startattempt.php', ['cmid' => $this->quiz->cmid]);
        $PAGE->set_url($url);
        $PAGE->set_context(\context_module::instance($this->quiz->cmid));
        $form = $this->quiz_settings($this->quiz)->get_access_manager(time())->get_preflight_check_form($url, $attemptid);
        return (new \ReflectionProperty($form, '_form'))->getValue($form);
    }

    /**
     * The attempt the preflight module was last started with (0: none, the consent and camera step).
     *
     * @return int
     */
    private static function preflight_module_attempt(): int {
        global $PAGE;
        $code = implode("\n", (new \ReflectionProperty($PAGE->requires, 'amdjscode'))->getValue($PAGE->requires));
        preg_match_all('~quizaccess_proctorpy/preflight\'\], function\(amd\) \{amd\.init\((\d+), \d+, \d+\)~', $code, $m);
        return (int) end($m[1]);
    }

    /**
     * The student meets consent and camera for the attempt created ahead, which has no identity step before it
     * starts; once started (the same attempt) the sidecar knows it, the identity step holds the student back, the
     * teacher sees the student waiting and lets the attempt go on, and the student is through.
     */
    public function test_attempt_created_ahead_gets_consent_then_identity_step_and_waiver(): void {
        global $DB, $SESSION;
        $client = $this->use_live_sidecar();
        $consent = ['proctorpy_consent' => 1, 'proctorpy_camera' => 1];
        $settings = $this->quiz_settings($this->quiz)->get_quiz();

        // Before the quiz opens.
        $attempts = $this->run_precreate_task();
        $precreated = null;
        if (self::attempts_created_ahead()) {
            $this->assertCount(1, $attempts);
            $precreated = reset($attempts);
            $this->assertSame(quiz_attempt::NOT_STARTED, $precreated->state);
            $this->assertSame(identity_step::NOT_STARTED, quiz_attempt::NOT_STARTED);
            $this->assertEquals($this->student->id, $precreated->userid);
            $this->assertTrue(identity_step::not_started((int) $precreated->id));
            $this->assertFalse(identity_step::pending($settings, (int) $precreated->id), 'No identity step before the start');
            $this->assertSame([], identity_step::waiting($settings, null), 'Nobody waits at the identity check yet');
            $context = \context_module::instance($this->quiz->cmid);
            $this->setUser($this->teacher);
            $state = identity_step::report_state($settings, $precreated, $context);
            $this->assertSame(
                [get_string('identitystate_notstarted', 'quizaccess_proctorpy'), 'info'],
                [$state['message'], $state['kind']]
            );
            $this->assertArrayNotHasKey('canwaive', $state);
            try {
                $this->sidecar_attempt($client, (int) $precreated->id);
                $this->fail('The sidecar hears of an attempt when it starts, not when Moodle creates it ahead');
            } catch (sidecar_exception $e) {
                $this->assertSame(404, $e->status);
            }
        } else {
            $this->assertSame([], $attempts, 'Moodle 4.5 creates attempts only when they start');
        }

        // The quiz opens; the student presses Start attempt.
        $DB->set_field('quiz', 'timeopen', time() - MINSECS, ['id' => $this->quiz->id]);
        $this->setUser($this->student);
        [$currentid, $number, $last, $messages] = $this->startattempt_state();
        $this->assertSame([], $messages);
        $this->assertSame($precreated ? (int) $precreated->id : null, $currentid, 'startattempt.php passes the attempt ahead');
        $manager = $this->quiz_settings($this->quiz)->get_access_manager(time());
        $this->assertTrue($manager->is_preflight_check_required($currentid));
        $mform = $this->preflight_form($currentid);
        $this->assertTrue($mform->elementExists('proctorpy_consent'), 'Consent and camera come first');
        $this->assertFalse($mform->elementExists('proctorpy_identity'), 'No identity photo before the start');
        $this->assertSame(0, self::preflight_module_attempt());
        $this->assertSame(
            ['proctorpy_consent' => get_string('err_nocamera', 'quizaccess_proctorpy')],
            $manager->validate_preflight_check([], [], $currentid)
        );
        $this->assertSame([], $manager->validate_preflight_check($consent, [], $currentid), 'Consent and camera suffice');
        $manager->notify_preflight_check_passed($currentid);

        // Then startattempt.php starts the attempt ahead, or a new one where there is none.
        $this->assertTrue($currentid === null || identity_step::not_started($currentid));
        $attempt = quiz_prepare_and_start_new_attempt($this->quiz_settings($this->quiz), $number, $last);
        if ($precreated) {
            $this->assertEquals($precreated->id, $attempt->id, 'The attempt ahead is the one that starts');
        }
        $attemptid = (int) $attempt->id;
        $this->assertSame(quiz_attempt::IN_PROGRESS, $DB->get_field('quiz_attempts', 'state', ['id' => $attemptid]));
        $this->assertFalse(identity_step::not_started($attemptid));
        $registered = $this->sidecar_attempt($client, $attemptid)['attempt'];
        $this->assertEquals([$this->student->id, $this->quiz->id], [$registered['user_id'], $registered['quiz_id']]);

        // Moodle's attempt.php sends the student back to the pre-flight check: the identity step, for this attempt.
        $manager = $this->quiz_settings($this->quiz)->get_access_manager(time());
        $this->assertTrue($manager->is_preflight_check_required($attemptid));
        $this->assertTrue(identity_step::pending($settings, $attemptid));
        [$currentid] = $this->startattempt_state();
        $this->assertSame($attemptid, $currentid);
        $mform = $this->preflight_form($currentid);
        $this->assertFalse($mform->elementExists('proctorpy_consent'), 'Consent was given in this session');
        $this->assertTrue($mform->elementExists('proctorpy_identity'));
        $this->assertSame($attemptid, self::preflight_module_attempt());
        $this->assertSame(
            ['proctorpy_identity' => get_string('err_identitypending', 'quizaccess_proctorpy')],
            $manager->validate_preflight_check($consent, [], $currentid)
        );

        // The teacher, in a session of their own, sees the student waiting and lets the attempt go on.
        $studentsession = clone $SESSION;
        $context = \context_module::instance($this->quiz->cmid);
        $this->setUser($this->teacher);
        $this->assertSame([$attemptid], array_map('intval', array_column(identity_step::waiting($settings, null), 'id')));
        $row = $DB->get_record('quiz_attempts', ['id' => $attemptid]);
        $this->assertTrue(identity_step::report_state($settings, $row, $context)['canwaive']);
        $this->assertTrue(identity_step::waive($row, $context, (int) $this->teacher->id));

        // The student, back in the same session, is through.
        $this->setUser($this->student);
        foreach (get_object_vars($studentsession) as $name => $value) {
            $SESSION->$name = $value;
        }
        $manager = $this->quiz_settings($this->quiz)->get_access_manager(time());
        $this->assertSame([], $manager->validate_preflight_check($consent, [], $attemptid));
        $this->assertFalse($manager->is_preflight_check_required($attemptid));
        $this->assertSame(identity_step::WAIVED, identity_step::outcome($attemptid)->outcome);
    }
}
