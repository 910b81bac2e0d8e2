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

use quizaccess_proctorpy\local\page_access;
use quizaccess_proctorpy\tests\proctorpy_helper;

#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\local\page_access::class)]
/**
 * Tests of who may open the report, image, download and console pages.
 *
 * @package    quizaccess_proctorpy
 * @category   test
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 * @covers     \quizaccess_proctorpy\local\page_access
 */
final class page_access_test extends \advanced_testcase {
    use proctorpy_helper;

    /** @var \stdClass the course */
    private $course;
    /** @var \stdClass a student */
    private $student;
    /** @var \stdClass an editing teacher */
    private $teacher;
    /** @var \stdClass the proctored quiz */
    private $quiz;

    /**
     * A course with a proctored quiz, a student and a teacher.
     */
    protected function setUp(): void {
        parent::setUp();
        $this->resetAfterTest();
        [$this->course, $this->student, $this->teacher] = $this->create_course_with_users();
        $this->quiz = $this->create_quiz($this->course);
    }

    /**
     * What report.php, download.php and image.php check, for a user, on a fresh page as each request has.
     *
     * @param \stdClass $user the user
     * @param int $cmid course module id
     * @param bool $preventredirect as image.php asks
     * @return array [course, cm, context]
     */
    private static function report_viewer_as(\stdClass $user, int $cmid, bool $preventredirect = false): array {
        global $PAGE;
        \core\session\manager::set_user($user);
        $PAGE = new \moodle_page();
        [$course, $cm] = get_course_and_cm_from_cmid($cmid, 'quiz');
        require_login($course, false, $cm, !$preventredirect, $preventredirect);
        return [$course, $cm, page_access::require_report_viewer($cm)];
    }

    /**
     * Teachers, editing or not, may see the reports of their course's quiz.
     */
    public function test_teachers_see_reports(): void {
        [$course, $cm, $context] = self::report_viewer_as($this->teacher, $this->quiz->cmid);
        $this->assertEquals($this->course->id, $course->id);
        $this->assertEquals($this->quiz->id, $cm->instance);
        $this->assertEquals(\context_module::instance($this->quiz->cmid)->id, $context->id);

        $assistant = $this->getDataGenerator()->create_and_enrol($this->course, 'teacher');
        [, $cm] = self::report_viewer_as($assistant, $this->quiz->cmid, true);
        $this->assertEquals($this->quiz->cmid, $cm->id);
    }

    /**
     * A student may not see the reports, from any of the pages.
     */
    public function test_student_is_refused(): void {
        foreach ([false, true] as $preventredirect) {
            try {
                self::report_viewer_as($this->student, $this->quiz->cmid, $preventredirect);
                $this->fail('A student got past the report check');
            } catch (\required_capability_exception $e) {
                $this->assertSame('nopermissions', $e->errorcode);
                $this->assertStringContainsString(get_string('proctorpy:viewreport', 'quizaccess_proctorpy'), $e->getMessage());
            }
        }
    }

    /**
     * The capability decides, not the role: a student given it may see the reports.
     */
    public function test_capability_given_to_a_student(): void {
        $roleid = $this->getDataGenerator()->create_role();
        assign_capability('quizaccess/proctorpy:viewreport', CAP_ALLOW, $roleid, \context_system::instance()->id);
        $this->getDataGenerator()->role_assign($roleid, $this->student->id, \context_module::instance($this->quiz->cmid)->id);
        [, $cm] = self::report_viewer_as($this->student, $this->quiz->cmid);
        $this->assertEquals($this->quiz->cmid, $cm->id);
    }

    /**
     * Someone outside the course is refused at login to it, before any capability is looked at.
     */
    public function test_outsider_is_refused(): void {
        $this->expectException(\require_login_exception::class);
        self::report_viewer_as($this->getDataGenerator()->create_user(), $this->quiz->cmid, true);
    }

    /**
     * A course module that is not a quiz is refused.
     */
    public function test_other_module_is_refused(): void {
        $page = $this->getDataGenerator()->create_module('page', ['course' => $this->course->id]);
        $this->expectException(\moodle_exception::class);
        self::report_viewer_as($this->teacher, $page->cmid);
    }

    /**
     * Only attempts at the quiz whose context was checked are reached.
     */
    public function test_attempt_must_belong_to_the_quiz(): void {
        $other = $this->create_quiz($this->course);
        $sink = $this->redirectEvents();
        $attempt = $this->start_attempt($this->quiz, $this->student);
        $elsewhere = $this->start_attempt($other, $this->student);
        $sink->close();
        [, $cm] = self::report_viewer_as($this->teacher, $this->quiz->cmid);

        $this->assertEquals($attempt->id, page_access::attempt_of_quiz($attempt->id, $cm)->id);
        $this->assertEquals($this->student->id, page_access::attempt_of_quiz($attempt->id, $cm)->userid);
        $this->expectException(\dml_missing_record_exception::class);
        page_access::attempt_of_quiz($elsewhere->id, $cm);
    }

    /**
     * The pages' further checks: PDF downloads and reviews for editing teachers, deleting for managers.
     */
    public function test_download_review_and_delete_capabilities(): void {
        $context = \context_module::instance($this->quiz->cmid);
        $assistant = $this->getDataGenerator()->create_and_enrol($this->course, 'teacher');
        $manager = $this->getDataGenerator()->create_and_enrol($this->course, 'manager');
        $expected = [
            'downloadimages' => [false, false, true, true],
            'reviewattempt' => [false, false, true, true],
            'deleteimages' => [false, false, false, true],
            'viewreport' => [false, true, true, true],
        ];
        foreach ($expected as $capability => $allowed) {
            $actual = [];
            foreach ([$this->student, $assistant, $this->teacher, $manager] as $user) {
                $actual[] = has_capability('quizaccess/proctorpy:' . $capability, $context, $user);
            }
            $this->assertSame($allowed, $actual, $capability);
        }
    }

    /**
     * Refused with the capability named, as require_capability refuses.
     *
     * @param callable $check the check
     * @param string $capability the capability expected to be missing, without its component prefix
     */
    private function assert_refused(callable $check, string $capability): void {
        try {
            $check();
            $this->fail('Not refused for want of ' . $capability);
        } catch (\required_capability_exception $e) {
            $this->assertStringContainsString(
                get_string('proctorpy:' . $capability, 'quizaccess_proctorpy'),
                $e->getMessage()
            );
        }
    }

    /**
     * Report viewers get thumbnails; only those who may download images get a camshot at full size (image.php).
     */
    public function test_full_size_images_need_downloadimages(): void {
        $assistant = $this->getDataGenerator()->create_and_enrol($this->course, 'teacher');
        [, , $context] = self::report_viewer_as($assistant, $this->quiz->cmid, true);
        page_access::require_image($context, true);
        $this->assert_refused(function () use ($context) {
            page_access::require_image($context, false);
        }, 'downloadimages');

        [, , $context] = self::report_viewer_as($this->teacher, $this->quiz->cmid, true);
        page_access::require_image($context, true);
        page_access::require_image($context, false);
        $this->assertTrue(has_capability('quizaccess/proctorpy:downloadimages', $context));
    }

    /**
     * The PDF needs the right to download images; the CSV, the overview's table, only the report (download.php).
     */
    public function test_downloads(): void {
        $assistant = $this->getDataGenerator()->create_and_enrol($this->course, 'teacher');
        [, , $context] = self::report_viewer_as($assistant, $this->quiz->cmid);
        page_access::require_download($context, 'csv');
        $this->assert_refused(function () use ($context) {
            page_access::require_download($context, 'pdf');
        }, 'downloadimages');

        [, , $context] = self::report_viewer_as($this->teacher, $this->quiz->cmid);
        page_access::require_download($context, 'csv');
        page_access::require_download($context, 'pdf');
        try {
            page_access::require_download($context, 'zip');
            $this->fail('An unknown download was let through');
        } catch (\moodle_exception $e) {
            $this->assertSame('err_download', $e->errorcode);
        }
    }

    /**
     * The right to download images is not enough without the right to see the reports.
     */
    public function test_downloadimages_alone_opens_nothing(): void {
        $roleid = $this->getDataGenerator()->create_role();
        assign_capability('quizaccess/proctorpy:downloadimages', CAP_ALLOW, $roleid, \context_system::instance()->id);
        $this->getDataGenerator()->role_assign($roleid, $this->student->id, \context_module::instance($this->quiz->cmid)->id);
        $this->assert_refused(function () {
            self::report_viewer_as($this->student, $this->quiz->cmid, true);
        }, 'viewreport');
    }

    /**
     * The console is for site administrators only.
     */
    public function test_console_needs_a_site_administrator(): void {
        $this->setAdminUser();
        $this->assertEquals(\context_system::instance()->id, page_access::require_site_admin()->id);

        $this->setUser($this->teacher);
        $this->expectException(\required_capability_exception::class);
        page_access::require_site_admin();
    }
}
