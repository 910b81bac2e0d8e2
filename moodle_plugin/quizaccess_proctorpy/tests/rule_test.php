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

use quizaccess_proctorpy\tests\proctorpy_helper;

defined('MOODLE_INTERNAL') || die();

global $CFG;
require_once($CFG->dirroot . '/mod/quiz/accessrule/proctorpy/rule.php');

#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy::class)]
/**
 * Tests of the access rule: when it applies, the pre-flight check, the capture module and the description.
 *
 * @package    quizaccess_proctorpy
 * @category   test
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 * @covers     \quizaccess_proctorpy
 */
final class rule_test extends \advanced_testcase {
    use proctorpy_helper;

    /** @var \stdClass the course */
    private $course;
    /** @var \stdClass a student enrolled in it */
    private $student;
    /** @var \stdClass an editing teacher of it */
    private $teacher;

    /**
     * A course with a student and a teacher.
     */
    protected function setUp(): void {
        parent::setUp();
        $this->resetAfterTest();
        [$this->course, $this->student, $this->teacher] = $this->create_course_with_users();
    }

    /**
     * The rule of a quiz for the current user, or null.
     *
     * @param \stdClass $quiz the quiz
     * @return \quizaccess_proctorpy|null
     */
    private function make_rule(\stdClass $quiz): ?\quizaccess_proctorpy {
        return \quizaccess_proctorpy::make($this->quiz_settings($quiz), time(), false);
    }

    /**
     * What the page was asked to run of an AMD module: the arguments of each call of its function.
     *
     * @param \moodle_page $page the page
     * @param string $module e.g. quizaccess_proctorpy/capture
     * @param string $function e.g. init
     * @return array one list of decoded arguments per call
     */
    private static function amd_calls(\moodle_page $page, string $module, string $function): array {
        $code = (new \ReflectionProperty($page->requires, 'amdjscode'))->getValue($page->requires);
        $calls = [];
        $pattern = '~require\(\[\'' . preg_quote($module, '~') . '\'\], function\(amd\) \{amd\.' . $function
            . '\((.*)\); M\.util\.js_complete~';
        foreach ($code as $js) {
            if (preg_match($pattern, $js, $m)) {
                $calls[] = json_decode('[' . $m[1] . ']', true, 512, JSON_THROW_ON_ERROR);
            }
        }
        return $calls;
    }

    /**
     * Set up an attempt page as mod/quiz/attempt.php does, and return it.
     *
     * @param \stdClass $quiz the quiz
     * @param int $attemptid the attempt named in the request
     * @param string $pagetype the page type
     * @return \moodle_page
     */
    private function set_up_attempt_page(\stdClass $quiz, int $attemptid, string $pagetype = 'mod-quiz-attempt'): \moodle_page {
        $_GET['attempt'] = $attemptid;
        $page = new \moodle_page();
        $page->set_context(\context_module::instance($quiz->cmid));
        $page->set_pagetype($pagetype);
        $page->set_url('/mod/quiz/attempt.php', ['attempt' => $attemptid]);
        $rule = $this->make_rule($quiz);
        $this->assertNotNull($rule);
        $rule->setup_attempt_page($page);
        unset($_GET['attempt']);
        return $page;
    }

    /**
     * Start an attempt without the observer calling a sidecar: these tests have none.
     *
     * @param \stdClass $quiz the quiz
     * @param \stdClass $user the student
     * @return \stdClass row of quiz_attempts
     */
    private function start_attempt_quietly(\stdClass $quiz, \stdClass $user): \stdClass {
        $sink = $this->redirectEvents();
        $attempt = $this->start_attempt($quiz, $user);
        $sink->close();
        return $attempt;
    }

    /**
     * No rule for a quiz without settings, nor for one whose proctoring was turned off; a rule when it is on.
     */
    public function test_make_applies_only_to_proctored_quizzes(): void {
        $this->setUser($this->student);
        $this->assertNull($this->make_rule($this->create_quiz($this->course, null)));
        $this->assertNull($this->make_rule($this->create_quiz($this->course, ['enabled' => 0])));
        $this->assertInstanceOf(\quizaccess_proctorpy::class, $this->make_rule($this->create_quiz($this->course)));
    }

    /**
     * The access manager lists the rule with the quiz's other rules, and only for proctored quizzes.
     */
    public function test_access_manager_lists_the_rule(): void {
        $this->setUser($this->student);
        $proctored = $this->quiz_settings($this->create_quiz($this->course))->get_access_manager(time());
        $plain = $this->quiz_settings($this->create_quiz($this->course, null))->get_access_manager(time());
        $this->assertContains('quizaccess_proctorpy', $proctored->get_active_rule_names());
        $this->assertNotContains('quizaccess_proctorpy', $plain->get_active_rule_names());
    }

    /**
     * Students are asked for consent once per session and attempt; staff with the bypass capability never.
     */
    public function test_preflight_check_required_for_students_only(): void {
        $quiz = $this->create_quiz($this->course);
        $this->setUser($this->student);
        $rule = $this->make_rule($quiz);
        $this->assertTrue($rule->is_preflight_check_required(null));
        $rule->notify_preflight_check_passed(null);
        $this->assertFalse($rule->is_preflight_check_required(null));
        $this->assertFalse($this->make_rule($quiz)->is_preflight_check_required(null), 'Consent is kept in the session');
        $rule->current_attempt_finished();
        $this->assertTrue($rule->is_preflight_check_required(null), 'The next attempt asks again');

        $this->setUser($this->teacher);
        $this->assertFalse($this->make_rule($quiz)->is_preflight_check_required(null));
    }

    /**
     * Consent given for one quiz is not consent for another.
     */
    public function test_consent_is_per_quiz(): void {
        $first = $this->create_quiz($this->course);
        $second = $this->create_quiz($this->course);
        $this->setUser($this->student);
        $this->make_rule($first)->notify_preflight_check_passed(null);
        $this->assertFalse($this->make_rule($first)->is_preflight_check_required(null));
        $this->assertTrue($this->make_rule($second)->is_preflight_check_required(null));
    }

    /**
     * The pre-flight form shows the consent text, the camera preview and the consent box, and starts the preflight module.
     */
    public function test_preflight_form_fields(): void {
        global $PAGE;
        $quiz = $this->create_quiz($this->course, ['identitycheck' => 'face']);
        $this->setUser($this->student);
        $PAGE->set_url('/mod/quiz/startattempt.php', ['cmid' => $quiz->cmid]);
        $PAGE->set_context(\context_module::instance($quiz->cmid));
        $form = $this->quiz_settings($quiz)->get_access_manager(time())->get_preflight_check_form(
            new \moodle_url('/mod/quiz/startattempt.php', ['cmid' => $quiz->cmid]),
            null
        );
        $mform = (new \ReflectionProperty($form, '_form'))->getValue($form);
        $this->assertEquals('checkbox', $mform->getElement('proctorpy_consent')->getType());
        $this->assertEquals('hidden', $mform->getElement('proctorpy_camera')->getType());
        $this->assertTrue($mform->elementExists('proctorpyheader'));

        $html = $form->render();
        $this->assertStringContainsString('This quiz is proctored.', $html, 'The standard consent text');
        $this->assertStringContainsString('against the photos of the other students of this quiz', $html);
        $this->assertStringContainsString('biometric data', $html);
        $this->assertStringContainsString(get_string('identitynotice', 'quizaccess_proctorpy'), $html);
        $this->assertStringContainsString('data-region="preview"', $html);
        $this->assertStringContainsString(get_string('consentagree', 'quizaccess_proctorpy'), $html);
        $this->assertCount(1, self::amd_calls($PAGE, 'quizaccess_proctorpy/preflight', 'init'));
    }

    /**
     * The site's own consent text replaces the standard one; a quiz without identity check does not mention it.
     */
    public function test_preflight_form_uses_site_consent_text(): void {
        global $PAGE;
        set_config('consenttext', '<p>Our own words about the webcam.</p>', 'quizaccess_proctorpy');
        $quiz = $this->create_quiz($this->course, ['identitycheck' => 'none']);
        $this->setUser($this->student);
        $PAGE->set_url('/mod/quiz/startattempt.php', ['cmid' => $quiz->cmid]);
        $PAGE->set_context(\context_module::instance($quiz->cmid));
        $html = $this->quiz_settings($quiz)->get_access_manager(time())->get_preflight_check_form(
            new \moodle_url('/mod/quiz/startattempt.php', ['cmid' => $quiz->cmid]),
            null
        )->render();
        $this->assertStringContainsString('Our own words about the webcam.', $html);
        $this->assertStringNotContainsString('This quiz is proctored.', $html);
        $this->assertStringNotContainsString(get_string('identitynotice', 'quizaccess_proctorpy'), $html);
    }

    /**
     * Data for the pre-flight validation.
     *
     * @return array submitted data and the error expected on the consent box, null for none
     */
    public static function preflight_data_provider(): array {
        return [
            'nothing' => [[], 'err_nocamera'],
            'consent without camera' => [['proctorpy_consent' => 1, 'proctorpy_camera' => 0], 'err_nocamera'],
            'camera without consent' => [['proctorpy_camera' => 1], 'err_consent'],
            'consent unticked' => [['proctorpy_consent' => 0, 'proctorpy_camera' => 1], 'err_consent'],
            'consent and camera' => [['proctorpy_consent' => 1, 'proctorpy_camera' => 1], null],
        ];
    }

    /**
     * The attempt starts only with consent ticked and a camera frame seen.
     *
     * @dataProvider preflight_data_provider
     * @param array $data submitted pre-flight data
     * @param string|null $error expected error string id, null for none
     */
    #[\PHPUnit\Framework\Attributes\DataProvider('preflight_data_provider')]
    public function test_validate_preflight_check(array $data, ?string $error): void {
        $quiz = $this->create_quiz($this->course);
        $this->setUser($this->student);
        $errors = $this->quiz_settings($quiz)->get_access_manager(time())->validate_preflight_check($data, [], null);
        $expected = $error === null ? [] : ['proctorpy_consent' => get_string($error, 'quizaccess_proctorpy')];
        $this->assertSame($expected, $errors);
    }

    /**
     * Students read that the quiz is proctored; report viewers also get the report button, and the live view's
     * beside it while an attempt is in progress.
     */
    public function test_description(): void {
        $quiz = $this->create_quiz($this->course);
        $notice = get_string('proctorednotice', 'quizaccess_proctorpy');

        $this->setUser($this->student);
        $this->assertSame([$notice], $this->make_rule($quiz)->description());

        $this->setUser($this->teacher);
        $description = $this->make_rule($quiz)->description();
        $this->assertCount(2, $description);
        $this->assertSame($notice, $description[0]);
        $this->assertStringContainsString('/mod/quiz/accessrule/proctorpy/report.php?cmid=' . $quiz->cmid, $description[1]);
        $this->assertStringContainsString(get_string('viewreport', 'quizaccess_proctorpy'), $description[1]);
        $this->assertStringNotContainsString('live.php', $description[1]);

        $attempt = $this->start_attempt_quietly($quiz, $this->student);
        $this->setUser($this->student);
        $this->assertSame([$notice], $this->make_rule($quiz)->description());
        $this->setUser($this->teacher);
        $description = $this->make_rule($quiz)->description();
        $this->assertCount(2, $description);
        $this->assertStringContainsString('/mod/quiz/accessrule/proctorpy/report.php?cmid=' . $quiz->cmid, $description[1]);
        $this->assertStringContainsString('/mod/quiz/accessrule/proctorpy/live.php?cmid=' . $quiz->cmid, $description[1]);
        $this->assertStringContainsString(get_string('liveview', 'quizaccess_proctorpy'), $description[1]);

        $sink = $this->redirectEvents();
        $this->finish_attempt($attempt);
        $sink->close();
        $this->assertStringNotContainsString('live.php', $this->make_rule($quiz)->description()[1]);
    }

    /**
     * In forwarded mode (the default) the attempt page starts the capture module with the quiz's settings and no token;
     * the summary page tells it that it is the last page before submitting.
     */
    public function test_setup_attempt_page_forwarded(): void {
        $quiz = $this->create_quiz($this->course, ['intervalmin' => 20, 'intervalmax' => 40, 'imagewidth' => 480]);
        $attempt = $this->start_attempt_quietly($quiz, $this->student);
        foreach (['mod-quiz-attempt', 'mod-quiz-summary'] as $pagetype) {
            $before = (int) floor(microtime(true) * 1000);
            $calls = self::amd_calls(
                $this->set_up_attempt_page($quiz, $attempt->id, $pagetype),
                'quizaccess_proctorpy/capture',
                'init'
            );
            // The server's clock when it made the page, by which the capture module sends its times.
            $servertime = $calls[0][0]['servertime'] ?? 0;
            $this->assertGreaterThanOrEqual($before, $servertime, $pagetype);
            $this->assertLessThanOrEqual((int) ceil(microtime(true) * 1000), $servertime, $pagetype);
            $this->assertSame([[[
                'attemptid' => (int) $attempt->id,
                'summary' => $pagetype === 'mod-quiz-summary',
                'intervalmin' => 20,
                'intervalmax' => 40,
                'width' => 480,
                'servertime' => $servertime,
                'direct' => null,
            ]]], $calls, $pagetype);
        }
    }

    /**
     * In direct mode the capture module gets the public URL and an upload token for this attempt and user.
     */
    public function test_setup_attempt_page_direct(): void {
        global $CFG;
        set_config('uploadmode', direct_upload::MODE_DIRECT, 'quizaccess_proctorpy');
        set_config('publicpath', '/proctorpy/', 'quizaccess_proctorpy');
        set_config('secret', 'phpunit-secret-0123456789', 'quizaccess_proctorpy');
        $quiz = $this->create_quiz($this->course, [], ['timelimit' => 1800]);
        $attempt = $this->start_attempt_quietly($quiz, $this->student);

        $calls = self::amd_calls($this->set_up_attempt_page($quiz, $attempt->id), 'quizaccess_proctorpy/capture', 'init');
        $this->assertCount(1, $calls);
        $direct = $calls[0][0]['direct'];
        $parts = parse_url($CFG->wwwroot);
        $this->assertSame($parts['scheme'] . '://' . $parts['host'] . (isset($parts['port']) ? ':' . $parts['port'] : '')
            . '/proctorpy', $direct['url']);
        $this->assertSame((int) $this->student->id, $direct['userid']);

        [$version, $payload, $mac] = explode('.', $direct['token']);
        $this->assertSame('v1', $version);
        $json = base64_decode(strtr($payload, '-_', '+/'));
        $this->assertSame(
            $direct['token'],
            (new signer('phpunit-secret-0123456789'))->token_for_json($json),
            'The token is signed with the shared secret'
        );
        $claims = json_decode($json, true);
        $this->assertSame(['a', 'u', 'exp'], array_keys($claims));
        $this->assertSame((int) $attempt->id, $claims['a']);
        $this->assertSame((int) $this->student->id, $claims['u']);
        $this->assertSame(
            (int) $attempt->timestart + 1800 + direct_upload::MARGIN,
            $claims['exp'],
            'A timed attempt\'s token lasts to the end of its time limit and a margin'
        );
    }

    /**
     * An untimed attempt's token lasts the site's longest token lifetime.
     */
    public function test_setup_attempt_page_direct_untimed(): void {
        set_config('uploadmode', direct_upload::MODE_DIRECT, 'quizaccess_proctorpy');
        set_config('tokenlifetime', 2 * HOURSECS, 'quizaccess_proctorpy');
        $quiz = $this->create_quiz($this->course);
        $attempt = $this->start_attempt_quietly($quiz, $this->student);
        $before = time();
        $calls = self::amd_calls($this->set_up_attempt_page($quiz, $attempt->id), 'quizaccess_proctorpy/capture', 'init');
        $payload = explode('.', $calls[0][0]['direct']['token'])[1];
        $expiry = json_decode(base64_decode(strtr($payload, '-_', '+/')), true)['exp'];
        $this->assertGreaterThanOrEqual($before + 2 * HOURSECS, $expiry);
        $this->assertLessThanOrEqual(time() + 2 * HOURSECS, $expiry);
    }

    /**
     * A public path that direct upload would not use leaves the page in forwarded mode.
     */
    public function test_setup_attempt_page_direct_with_invalid_path_forwards(): void {
        set_config('uploadmode', direct_upload::MODE_DIRECT, 'quizaccess_proctorpy');
        set_config('publicpath', '/proctorpy/../admin/', 'quizaccess_proctorpy');
        $quiz = $this->create_quiz($this->course);
        $attempt = $this->start_attempt_quietly($quiz, $this->student);
        $calls = self::amd_calls($this->set_up_attempt_page($quiz, $attempt->id), 'quizaccess_proctorpy/capture', 'init');
        $this->assertNull($calls[0][0]['direct']);
    }

    /**
     * No capture on other pages, for exempt staff, for someone else's attempt or for a finished attempt.
     */
    public function test_setup_attempt_page_without_capture(): void {
        $quiz = $this->create_quiz($this->course);
        $attempt = $this->start_attempt_quietly($quiz, $this->student);
        $capture = function (\moodle_page $page): array {
            return self::amd_calls($page, 'quizaccess_proctorpy/capture', 'init');
        };
        $this->assertSame([], $capture($this->set_up_attempt_page($quiz, $attempt->id, 'mod-quiz-view')));
        $this->assertSame([], $capture($this->set_up_attempt_page($quiz, $attempt->id, 'mod-quiz-review')));

        $other = $this->getDataGenerator()->create_and_enrol($this->course, 'student');
        $this->setUser($other);
        $this->assertSame([], $capture($this->set_up_attempt_page($quiz, $attempt->id)), 'Not the user\'s attempt');

        $this->setUser($this->teacher);
        $preview = $this->start_attempt_quietly($quiz, $this->teacher);
        $this->assertSame([], $capture($this->set_up_attempt_page($quiz, $preview->id)), 'Staff are exempt');

        $this->setUser($this->student);
        $sink = $this->redirectEvents();
        $this->finish_attempt($attempt);
        $sink->close();
        $this->assertSame([], $capture($this->set_up_attempt_page($quiz, $attempt->id)), 'Finished attempt');
    }
}
