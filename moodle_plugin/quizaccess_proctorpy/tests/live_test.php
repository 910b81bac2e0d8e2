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
use quizaccess_proctorpy\local\live_view;
use quizaccess_proctorpy\local\proctored_attempt;
use quizaccess_proctorpy\tests\proctorpy_helper;

#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\external\get_live::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\local\live_view::class)]
/**
 * Tests of the teacher's live view: its external function, its tiles and its page, against a live sidecar.
 *
 * The sidecar is named by PROCTORPY_TEST_SIDECAR_URL and PROCTORPY_TEST_SIDECAR_SECRET; without them these tests fail.
 *
 * @package    quizaccess_proctorpy
 * @category   test
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 * @covers     \quizaccess_proctorpy\external\get_live
 * @covers     \quizaccess_proctorpy\local\live_view
 */
final class live_test extends \advanced_testcase {
    use proctorpy_helper;

    /** @var \stdClass the course */
    private $course;
    /** @var \stdClass an editing teacher, in no group */
    private $teacher;
    /** @var \stdClass[] students by name: quiet, away, shooting */
    private $students = [];

    /**
     * A course with three students and an editing teacher, and the live sidecar emptied.
     */
    protected function setUp(): void {
        parent::setUp();
        $this->resetAfterTest();
        $this->use_live_sidecar();
        $generator = $this->getDataGenerator();
        $this->course = $generator->create_course();
        $this->teacher = $generator->create_and_enrol($this->course, 'editingteacher');
        foreach (['Quiet', 'Away', 'Shooting'] as $name) {
            $this->students[strtolower($name)] = $generator->create_and_enrol(
                $this->course,
                'student',
                ['firstname' => $name, 'lastname' => 'Student']
            );
        }
    }

    /**
     * Call get_live as the browser's AJAX request does.
     *
     * @param int $cmid the quiz's course module id
     * @param bool $flaggedonly only the attempts that need attention now
     * @return array data, or the exception's errorcode and message
     */
    private static function get_live(int $cmid, bool $flaggedonly = false): array {
        $_POST['sesskey'] = sesskey();
        $answer = external_api::call_external_function(
            'quizaccess_proctorpy_get_live',
            ['cmid' => $cmid, 'flaggedonly' => $flaggedonly],
            true
        );
        if (!empty($answer['error'])) {
            return ['error' => $answer['exception']->errorcode, 'message' => $answer['exception']->message];
        }
        return $answer['data'];
    }

    /**
     * A quiz with an attempt in progress by each student: one whose camera has been quiet for an hour, one who
     * left the quiz page, and one who sent a camshot (not analysed: this sidecar analyses nothing).
     *
     * @param array $quizfields other fields of the quiz
     * @return array [quiz, attempts by student name]
     */
    private function quiz_with_attempts(array $quizfields = []): array {
        global $DB;
        $quiz = $this->create_quiz($this->course, [], $quizfields);
        $attempts = [];
        foreach ($this->students as $name => $student) {
            $attempts[$name] = $this->start_attempt($quiz, $student);
        }
        $DB->set_field('quiz_attempts', 'timestart', time() - 3600, ['id' => $attempts['quiet']->id]);
        proctored_attempt::load((int) $attempts['quiet']->id)->register();
        proctored_attempt::load((int) $attempts['away']->id)->forward_event(
            'tab_hidden',
            (int) (microtime(true) * 1000),
            'ev1'
        );
        proctored_attempt::load((int) $attempts['shooting']->id)->forward_camshot(
            camshot_image::from_base64(base64_encode(self::image_bytes())),
            (int) (microtime(true) * 1000),
            'shot1',
            'attempt'
        );
        return [$quiz, $attempts];
    }

    /**
     * The tiles' student names, in order.
     *
     * @param array $answer get_live's answer
     * @return string[]
     */
    private static function names(array $answer): array {
        return array_column($answer['tiles'], 'fullname');
    }

    /**
     * The function is declared for AJAX, read only, with a login required.
     */
    public function test_function_is_declared(): void {
        $info = external_api::external_function_info('quizaccess_proctorpy_get_live');
        $this->assertSame('quizaccess_proctorpy\\external\\get_live', $info->classname);
        $this->assertTrue((bool) $info->allowed_from_ajax);
        $this->assertTrue((bool) $info->loginrequired);
        $this->assertSame('read', $info->type);
    }

    /**
     * One tile per attempt in progress, in the sidecar's order: the most serious problem first; Moodle's names,
     * the thumbnail through image.php, the verdict and the times in words.
     */
    public function test_tiles_put_problems_first(): void {
        global $CFG;
        [$quiz, $attempts] = $this->quiz_with_attempts();
        $this->setUser($this->teacher);
        $answer = self::get_live((int) $quiz->cmid);
        $this->assertArrayNotHasKey('error', $answer, $answer['message'] ?? '');
        $this->assertSame(['Quiet Student', 'Away Student', 'Shooting Student'], self::names($answer));
        $this->assertSame([3, 3, 2], [$answer['total'], $answer['shown'], $answer['flagged']]);
        [$quiet, $away, $shooting] = $answer['tiles'];

        $this->assertSame('camera_quiet', $quiet['problems'][0]['code']);
        $this->assertTrue($quiet['cameraquiet']);
        $this->assertSame('', $quiet['thumburl']);
        $this->assertStringStartsWith(get_string('livenoshotfor', 'quizaccess_proctorpy', ''), $quiet['sinceshot']);

        $this->assertSame('left_page', end($away['problems'])['code']);
        $this->assertSame(1, $away['leftpage']);
        $this->assertStringContainsString(get_string('live_event_tab_hidden', 'quizaccess_proctorpy'), $away['lastevent']);

        $this->assertFalse($shooting['problem']);
        $this->assertSame([], $shooting['problems']);
        $this->assertSame('pending', $shooting['verdict']);
        $this->assertSame(get_string('live_verdict_pending', 'quizaccess_proctorpy'), $shooting['verdictlabel']);
        $this->assertNotSame('', $shooting['shotid']);
        $this->assertSame(image_link::base(
            $CFG->wwwroot,
            (int) $quiz->cmid,
            (int) $attempts['shooting']->id,
            !empty($CFG->slasharguments)
        ) . $shooting['shotid'] . '?size=thumb', $shooting['thumburl']);
        $this->assertStringContainsString(
            'report.php?cmid=' . $quiz->cmid . '&attempt=' . $attempts['shooting']->id,
            $shooting['reporturl']
        );
    }

    /**
     * "Flagged only" keeps the tiles with a problem, in the same order; a quiz without attempts in progress says so.
     */
    public function test_flagged_only(): void {
        [$quiz, $attempts] = $this->quiz_with_attempts();
        $this->setUser($this->teacher);
        $answer = self::get_live((int) $quiz->cmid, true);
        $this->assertSame(['Quiet Student', 'Away Student'], self::names($answer));
        $this->assertSame([3, 2, 2], [$answer['total'], $answer['shown'], $answer['flagged']]);
        $this->assertTrue($answer['flaggedonly']);

        foreach ($attempts as $attempt) {
            $this->finish_attempt($attempt);
        }
        $this->setUser($this->teacher);
        $answer = self::get_live((int) $quiz->cmid);
        $this->assertSame([], $answer['tiles']);
        $this->assertSame(get_string('livenone', 'quizaccess_proctorpy'), $answer['emptymessage']);
    }

    /**
     * An attempt that Moodle has finished is gone from the view even while the sidecar still lists it.
     */
    public function test_attempts_finished_in_moodle_are_left_out(): void {
        global $DB;
        [$quiz, $attempts] = $this->quiz_with_attempts();
        $DB->set_field('quiz_attempts', 'state', \mod_quiz\quiz_attempt::FINISHED, ['id' => $attempts['away']->id]);
        $this->setUser($this->teacher);
        $this->assertSame(['Quiet Student', 'Shooting Student'], self::names(self::get_live((int) $quiz->cmid)));
    }

    /**
     * Students and users outside the course are refused.
     */
    public function test_students_are_refused(): void {
        [$quiz] = $this->quiz_with_attempts();
        $this->setUser($this->students['away']);
        $this->assertSame('nopermissions', self::get_live((int) $quiz->cmid)['error']);
        $this->setUser($this->getDataGenerator()->create_user());
        $this->assertSame('requireloginerror', self::get_live((int) $quiz->cmid)['error']);
    }

    /**
     * In separate groups, a non-editing teacher sees the tiles of their own group's students only; the editing
     * teacher, who may access all groups, sees everyone's.
     */
    public function test_groups_are_respected(): void {
        global $SESSION;
        $generator = $this->getDataGenerator();
        $assistant = $generator->create_and_enrol($this->course, 'teacher');
        $groupa = $generator->create_group(['courseid' => $this->course->id, 'name' => 'A']);
        $groupb = $generator->create_group(['courseid' => $this->course->id, 'name' => 'B']);
        $generator->create_group_member(['groupid' => $groupa->id, 'userid' => $this->students['quiet']->id]);
        $generator->create_group_member(['groupid' => $groupa->id, 'userid' => $assistant->id]);
        $generator->create_group_member(['groupid' => $groupb->id, 'userid' => $this->students['away']->id]);
        $generator->create_group_member(['groupid' => $groupb->id, 'userid' => $this->students['shooting']->id]);
        [$quiz] = $this->quiz_with_attempts(['groupmode' => SEPARATEGROUPS]);

        $this->setUser($assistant);
        unset($SESSION->activegroup);
        $answer = self::get_live((int) $quiz->cmid);
        $this->assertSame(['Quiet Student'], self::names($answer));
        $this->assertSame(get_string('livesummaryone', 'quizaccess_proctorpy', ['attention' => 1]), $answer['summary']);

        $this->setUser($this->teacher);
        unset($SESSION->activegroup);
        $this->assertSame(['Quiet Student', 'Away Student', 'Shooting Student'], self::names(self::get_live((int) $quiz->cmid)));

        // The group chosen in the page's selector, kept in the session, narrows the teacher's view too.
        $SESSION->activegroup[$this->course->id]['aag'][0] = (int) $groupb->id;
        $this->assertSame(['Away Student', 'Shooting Student'], self::names(self::get_live((int) $quiz->cmid)));

        $this->setUser($this->getDataGenerator()->create_and_enrol($this->course, 'teacher'));
        unset($SESSION->activegroup);
        $answer = self::get_live((int) $quiz->cmid);
        $this->assertSame([], $answer['tiles']);
        $this->assertSame(get_string('nostudentstolist', 'quizaccess_proctorpy'), $answer['emptymessage']);
    }

    /**
     * A sidecar that does not answer is the sidecarunavailable error of the function, and a sentence on the page.
     */
    public function test_sidecar_down_is_said_plainly(): void {
        [$quiz] = $this->quiz_with_attempts();
        set_config('sidecarurl', 'http://127.0.0.1:9', 'quizaccess_proctorpy');
        set_config('requesttimeout', 2, 'quizaccess_proctorpy');
        $this->setUser($this->teacher);
        $answer = self::get_live((int) $quiz->cmid);
        $this->assertSame('sidecarunavailable', $answer['error']);
        $this->assertSame(get_string('sidecarunavailable', 'quizaccess_proctorpy'), $answer['message']);

        $context = live_view::for_quiz($this->cm($quiz))->page_context(false);
        $this->assertStringStartsWith(get_string('sidecarerror', 'quizaccess_proctorpy', ''), $context['error']);
        $xpath = self::render($context);
        $alert = $xpath->query("//div[@data-region='error']")->item(0);
        $this->assertFalse($alert->hasAttribute('hidden'));
        $this->assertSame($context['error'], trim($alert->textContent));
        $this->assertSame(0, $xpath->query("//li[@data-region='tile']")->length);
    }

    /**
     * The page renders the tiles with the filter, problem tiles marked, thumbnails and report links; the error
     * region is there, hidden, for the refreshes to use.
     */
    public function test_page_renders_the_tiles(): void {
        [$quiz, $attempts] = $this->quiz_with_attempts();
        $this->setUser($this->teacher);
        $xpath = self::render(live_view::for_quiz($this->cm($quiz))->page_context(false));

        $tiles = $xpath->query("//div[@data-region='quizaccess_proctorpy-live']//li[@data-region='tile']");
        $this->assertSame(3, $tiles->length);
        $this->assertEquals($attempts['quiet']->id, $tiles->item(0)->getAttribute('data-attemptid'));
        $this->assertStringContainsString('ppl-problem', $tiles->item(0)->getAttribute('class'));
        $this->assertStringNotContainsString('ppl-problem', $tiles->item(2)->getAttribute('class'));
        $this->assertSame(1, $xpath->query("//li[@data-attemptid='{$attempts['shooting']->id}']//img[contains(@src, "
            . "'/mod/quiz/accessrule/proctorpy/image.php/{$quiz->cmid}/{$attempts['shooting']->id}/')]")->length);
        $this->assertSame(3, $xpath->query("//li[@data-region='tile']//a[contains(@href, 'report.php')]")->length);
        $this->assertSame(1, $xpath->query("//input[@type='checkbox'][@data-action='flaggedonly']")->length);
        $this->assertTrue($xpath->query("//div[@data-region='error']")->item(0)->hasAttribute('hidden'));

        $flagged = self::render(live_view::for_quiz($this->cm($quiz))->page_context(true));
        $this->assertSame(2, $flagged->query("//li[@data-region='tile']")->length);
        $this->assertTrue($flagged->query("//input[@data-action='flaggedonly']")->item(0)->hasAttribute('checked'));
    }

    /**
     * A student waiting at the identity step comes first, said to wait there rather than to have a quiet camera,
     * with the button that lets the attempt go on for a viewer who may waive the check, and without it otherwise.
     */
    public function test_students_waiting_at_the_identity_step_come_first_with_the_waiver(): void {
        [$quiz] = $this->quiz_with_attempts();
        $identityquiz = $this->create_quiz($this->course, ['identitycheck' => 'face']);
        $waiting = $this->start_attempt($identityquiz, $this->students['shooting']);
        $passed = $this->start_attempt($identityquiz, $this->students['away']);
        local\identity_step::record_pass((int) $passed->id);
        foreach ([$waiting, $passed] as $attempt) {
            proctored_attempt::load((int) $attempt->id)->register();
        }

        $this->setUser($this->teacher);
        $answer = self::get_live((int) $identityquiz->cmid);
        $this->assertSame(['Shooting Student', 'Away Student'], self::names($answer));
        [$first, $second] = $answer['tiles'];
        $this->assertTrue($first['identitywaiting'] && $first['problem']);
        $this->assertFalse($first['cameraquiet']);
        $this->assertNotContains('camera_quiet', array_column($first['problems'], 'code'));
        $this->assertStringContainsString('attempt=' . $waiting->id, $first['waiveurl']);
        $this->assertSame(sesskey(), $first['sesskey']);
        $this->assertFalse($second['identitywaiting']);
        $this->assertSame('', $second['waiveurl']);
        $xpath = self::render(live_view::for_quiz($this->cm($identityquiz))->page_context(false));
        $tile = "//li[@data-attemptid='{$waiting->id}']";
        $this->assertSame(
            get_string('liveidentitywaiting', 'quizaccess_proctorpy'),
            trim($xpath->query("$tile//p[@data-region='identitywaiting']")->item(0)->textContent)
        );
        $this->assertSame(1, $xpath->query("$tile//form[contains(@action, 'attempt={$waiting->id}')]"
            . "[input[@name='waiveidentity']][input[@name='sesskey'][@value='" . sesskey() . "']]//button")->length);
        $this->assertSame(0, $xpath->query("//li[@data-attemptid='{$passed->id}']//form")->length);

        // A viewer who may not waive the check sees the student wait, without the button.
        $assistant = $this->getDataGenerator()->create_and_enrol($this->course, 'teacher');
        $role = $this->getDataGenerator()->create_role();
        $coursecontext = \context_course::instance($this->course->id);
        assign_capability('quizaccess/proctorpy:waiveidentitycheck', CAP_PROHIBIT, $role, $coursecontext);
        role_assign($role, $assistant->id, $coursecontext);
        $this->setUser($assistant);
        $tiles = self::get_live((int) $identityquiz->cmid)['tiles'];
        $this->assertTrue($tiles[0]['identitywaiting']);
        $this->assertSame(['', ''], [$tiles[0]['waiveurl'], $tiles[0]['sesskey']]);
        // A quiz without an identity step has no one waiting.
        $this->setUser($this->teacher);
        $this->assertSame([false, false, false], array_column(self::get_live((int) $quiz->cmid)['tiles'], 'identitywaiting'));
    }

    /**
     * The quiz's course module as the current user sees it.
     *
     * @param \stdClass $quiz the quiz
     * @return \cm_info
     */
    private function cm(\stdClass $quiz): \cm_info {
        return get_fast_modinfo($quiz->course)->get_cm($quiz->cmid);
    }

    /**
     * The live page's template rendered with a context, as a DOM.
     *
     * @param array $context the template's context
     * @return \DOMXPath
     */
    private static function render(array $context): \DOMXPath {
        global $OUTPUT;
        $html = $OUTPUT->render_from_template('quizaccess_proctorpy/live', $context);
        $document = new \DOMDocument();
        $document->loadHTML('<!DOCTYPE html><html><body>' . $html . '</body></html>', LIBXML_NOERROR);
        return new \DOMXPath($document);
    }
}
