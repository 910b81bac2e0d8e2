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

use quizaccess_proctorpy\external\get_attempt_report;
use quizaccess_proctorpy\local\live_view;
use quizaccess_proctorpy\local\page_access;
use quizaccess_proctorpy\tests\proctorpy_helper;

#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\local\page_access::class)]
/**
 * Tests of Moodle's group rules on the reports: the overview and its CSV, and one attempt's report, images and PDF.
 *
 * The overview comes from the live sidecar named by PROCTORPY_TEST_SIDECAR_URL and PROCTORPY_TEST_SIDECAR_SECRET.
 *
 * @package    quizaccess_proctorpy
 * @category   test
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 * @covers     \quizaccess_proctorpy\local\page_access
 */
final class groups_test extends \advanced_testcase {
    use proctorpy_helper;

    /** @var sidecar_client the plugin's client of the live sidecar */
    private $client;
    /** @var \stdClass the course */
    private $course;
    /** @var \stdClass an editing teacher, in no group */
    private $teacher;
    /** @var \stdClass a non-editing teacher in group A */
    private $assistant;
    /** @var \stdClass[] students by group name: A, B */
    private $students = [];
    /** @var \stdClass[] groups by name: A, B */
    private $groups = [];

    /**
     * A course with groups A and B, a student in each, and a non-editing teacher in A only.
     */
    protected function setUp(): void {
        parent::setUp();
        $this->resetAfterTest();
        $this->client = $this->use_live_sidecar();
        $generator = $this->getDataGenerator();
        [$this->course, $this->students['A'], $this->teacher] = $this->create_course_with_users();
        $this->students['B'] = $generator->create_and_enrol($this->course, 'student');
        $this->assistant = $generator->create_and_enrol($this->course, 'teacher');
        foreach (['A', 'B'] as $name) {
            $this->groups[$name] = $generator->create_group(['courseid' => $this->course->id, 'name' => $name]);
            $generator->create_group_member(['groupid' => $this->groups[$name]->id, 'userid' => $this->students[$name]->id]);
        }
        $generator->create_group_member(['groupid' => $this->groups['A']->id, 'userid' => $this->assistant->id]);
    }

    /**
     * A quiz in a group mode with an attempt by each student, registered with the sidecar.
     *
     * @param int $groupmode SEPARATEGROUPS or VISIBLEGROUPS
     * @return array [quiz, attempts by group name]
     */
    private function quiz_with_attempts(int $groupmode): array {
        $quiz = $this->create_quiz($this->course, [], ['groupmode' => $groupmode]);
        $attempts = [];
        foreach ($this->students as $name => $student) {
            $attempts[$name] = $this->start_attempt($quiz, $student);
        }
        return [$quiz, $attempts];
    }

    /**
     * The quiz's course module as a user sees it on a fresh request, whose session has chosen no group yet.
     *
     * @param \stdClass $user the viewer
     * @param \stdClass $quiz the quiz
     * @return \cm_info
     */
    private static function cm_as(\stdClass $user, \stdClass $quiz): \cm_info {
        global $SESSION;
        \core\session\manager::set_user($user);
        unset($SESSION->activegroup);
        return get_fast_modinfo($quiz->course, $user->id)->get_cm($quiz->cmid);
    }

    /**
     * The user ids of the overview's rows (JSON) and of its CSV, as the sidecar answers for the viewer.
     *
     * @param \cm_info $cm the quiz's course module, as the viewer sees it
     * @return array [JSON rows' user ids, CSV rows' user ids], each sorted
     */
    private function overview_user_ids(\cm_info $cm): array {
        $userids = page_access::listed_user_ids($cm);
        $actor = api::actor(0, 'quizaccess_proctorpy tests');
        $json = $this->client->json('GET', api::quiz_attempts((int) $cm->instance, 'json', [], $actor, '', '', '', $userids));
        $fromjson = array_column($json['attempts'], 'user_id');
        $csv = $this->client->call('GET', api::quiz_attempts((int) $cm->instance, 'csv', [], $actor, '', '', '', $userids))->body;
        $lines = array_map('str_getcsv', explode("\r\n", trim($csv)));
        $fromcsv = array_map('intval', array_column(array_slice($lines, 1), array_search('user_id', $lines[0])));
        sort($fromjson);
        sort($fromcsv);
        return [$fromjson, $fromcsv];
    }

    /**
     * The user ids of students by group name.
     *
     * @param string ...$names group names
     * @return int[] sorted
     */
    private function ids_of(string ...$names): array {
        $ids = [];
        foreach ($names as $name) {
            $ids[] = (int) $this->students[$name]->id;
        }
        sort($ids);
        return $ids;
    }

    /**
     * Separate groups: the teacher of group A lists group A's attempts only, in the overview and the CSV,
     * even when asking for group B.
     */
    public function test_separate_groups_overview_and_csv(): void {
        [$quiz] = $this->quiz_with_attempts(SEPARATEGROUPS);

        $cm = self::cm_as($this->assistant, $quiz);
        $listed = page_access::listed_user_ids($cm);
        $this->assertContains((int) $this->students['A']->id, $listed);
        $this->assertNotContains((int) $this->students['B']->id, $listed);
        $this->assertSame([$this->ids_of('A'), $this->ids_of('A')], $this->overview_user_ids($cm));

        $_GET['group'] = $this->groups['B']->id;
        $this->assertSame([$this->ids_of('A'), $this->ids_of('A')], $this->overview_user_ids($cm), 'Group B is not theirs');
        $_GET['group'] = 0;
        $this->assertSame([$this->ids_of('A'), $this->ids_of('A')], $this->overview_user_ids($cm), 'Nor are all participants');
        unset($_GET['group']);
    }

    /**
     * Separate groups: the teacher of group A is refused group B's attempt report, images and PDF, not group A's.
     */
    public function test_separate_groups_attempt_pages(): void {
        [$quiz, $attempts] = $this->quiz_with_attempts(SEPARATEGROUPS);
        // The PDF's own capability is given, so that only the group decides.
        $roleid = $this->get_teacher_role_id();
        assign_capability('quizaccess/proctorpy:downloadimages', CAP_ALLOW, $roleid, \context_module::instance($quiz->cmid)->id);

        $cm = self::cm_as($this->assistant, $quiz);
        $context = page_access::require_report_viewer($cm);
        $pages = [
            'report' => function () {
            },
            'thumbnail' => function () use ($context) {
                page_access::require_image($context, true);
            },
            'image' => function () use ($context) {
                page_access::require_image($context, false);
            },
            'pdf' => function () use ($context) {
                page_access::require_download($context, 'pdf');
            },
        ];
        foreach ($pages as $page => $check) {
            $check();
            $this->assertEquals($this->students['A']->id, page_access::attempt_of_quiz($attempts['A']->id, $cm)->userid, $page);
            try {
                page_access::attempt_of_quiz($attempts['B']->id, $cm);
                $this->fail('Group B\'s attempt reached from the ' . $page . ' page');
            } catch (\required_capability_exception $e) {
                $this->assertStringContainsString(get_string('site:accessallgroups', 'role'), $e->getMessage(), $page);
            }
        }
    }

    /**
     * The HTML report.php answers a user, as on a fresh request with the given parameters.
     *
     * @param \stdClass $user the viewer
     * @param array $params request parameters
     * @return string
     */
    private static function report_page_as(\stdClass $user, array $params): string {
        global $CFG, $DB, $OUTPUT, $PAGE, $SESSION, $USER;
        \core\session\manager::set_user($user);
        unset($SESSION->activegroup);
        $PAGE = new \moodle_page();
        $_GET = $params;
        ob_start();
        try {
            include($CFG->dirroot . '/mod/quiz/accessrule/proctorpy/report.php');
        } finally {
            $html = ob_get_clean();
            $_GET = [];
        }
        return $html;
    }

    /**
     * report.php itself: the teacher of group A sees group A's student in the overview, with the group
     * selector, not group B's; the editing teacher sees both; group B's attempt report is refused.
     */
    public function test_report_page(): void {
        [$quiz, $attempts] = $this->quiz_with_attempts(SEPARATEGROUPS);
        $names = array_map('fullname', $this->students);

        $html = self::report_page_as($this->assistant, ['cmid' => $quiz->cmid]);
        $this->assertStringContainsString(htmlspecialchars($names['A']), $html);
        $this->assertStringNotContainsString(htmlspecialchars($names['B']), $html);
        $this->assertStringContainsString('1 of 1 attempt', $html);
        $this->assertStringContainsString(get_string('groupsseparate'), $html);

        $html = self::report_page_as($this->teacher, ['cmid' => $quiz->cmid]);
        $this->assertStringContainsString('2 of 2 attempts', $html);

        $this->expectException(\required_capability_exception::class);
        self::report_page_as($this->assistant, ['cmid' => $quiz->cmid, 'attempt' => $attempts['B']->id]);
    }

    /**
     * A teacher in no group of a quiz in separate groups mode has no one to list, is told so, and reaches no attempt.
     */
    public function test_separate_groups_teacher_in_no_group(): void {
        [$quiz, $attempts] = $this->quiz_with_attempts(SEPARATEGROUPS);
        $outsider = $this->getDataGenerator()->create_and_enrol($this->course, 'teacher');
        $cm = self::cm_as($outsider, $quiz);
        $this->assertSame([], page_access::listed_user_ids($cm));
        $html = self::report_page_as($outsider, ['cmid' => $quiz->cmid]);
        $this->assertStringContainsString(
            get_string('nostudentstolist', 'quizaccess_proctorpy'),
            html_entity_decode($html, ENT_QUOTES)
        );
        $this->assertStringNotContainsString(htmlspecialchars(fullname($this->students['A'])), $html);
        $cm = self::cm_as($outsider, $quiz);
        $this->expectException(\required_capability_exception::class);
        page_access::attempt_of_quiz($attempts['A']->id, $cm);
    }

    /**
     * An empty list of students is never sent: the sidecar would read it as every student.
     */
    public function test_no_students_is_not_every_student(): void {
        $this->expectException(\InvalidArgumentException::class);
        api::quiz_attempts(1, 'csv', [], api::actor(0, 'test'), '', '', '', []);
    }

    /**
     * An editing teacher, who may access all groups, sees every attempt in separate groups mode.
     */
    public function test_editing_teacher_sees_all_groups(): void {
        [$quiz, $attempts] = $this->quiz_with_attempts(SEPARATEGROUPS);
        $cm = self::cm_as($this->teacher, $quiz);
        $this->assertNull(page_access::listed_user_ids($cm));
        $this->assertSame([$this->ids_of('A', 'B'), $this->ids_of('A', 'B')], $this->overview_user_ids($cm));
        foreach ($attempts as $attempt) {
            $this->assertEquals($attempt->id, page_access::attempt_of_quiz($attempt->id, $cm)->id);
        }

        $_GET['group'] = $this->groups['B']->id;
        $this->assertSame([$this->ids_of('B'), $this->ids_of('B')], $this->overview_user_ids($cm), 'Group B chosen');
        unset($_GET['group']);
    }

    /**
     * Visible groups: everyone may open every attempt and list every group, starting with their own.
     */
    public function test_visible_groups_show_everyone(): void {
        [$quiz, $attempts] = $this->quiz_with_attempts(VISIBLEGROUPS);
        $cm = self::cm_as($this->assistant, $quiz);
        foreach ($attempts as $attempt) {
            $this->assertEquals($attempt->id, page_access::attempt_of_quiz($attempt->id, $cm)->id);
        }
        $this->assertSame([$this->ids_of('A'), $this->ids_of('A')], $this->overview_user_ids($cm), 'Their own group first');
        $_GET['group'] = $this->groups['B']->id;
        $this->assertSame([$this->ids_of('B'), $this->ids_of('B')], $this->overview_user_ids($cm));
        $_GET['group'] = 0;
        $this->assertSame([$this->ids_of('A', 'B'), $this->ids_of('A', 'B')], $this->overview_user_ids($cm));
        unset($_GET['group']);
    }

    /**
     * The id of the non-editing teacher role.
     *
     * @return int
     */
    private function get_teacher_role_id(): int {
        global $DB;
        return (int) $DB->get_field('role', 'id', ['shortname' => 'teacher'], MUST_EXIST);
    }

    /**
     * Student A's identity photo shows the face of student B, whose reference photo the sidecar holds.
     *
     * @param \stdClass $attempt student A's attempt
     */
    private function recognise_b_in(\stdClass $attempt): void {
        $faces = $this->faces_folder();
        $this->client->image(
            'PUT',
            api::reference((int) $this->students['A']->id),
            [],
            file_get_contents($faces . '/biden/biden.jpg'),
            'image/jpeg'
        );
        $this->client->image(
            'PUT',
            api::reference((int) $this->students['B']->id),
            [],
            file_get_contents($faces . '/obama/obama-480p.jpg'),
            'image/jpeg'
        );
        $this->follow_identity_challenge($this->client, (int) $attempt->id, (int) $this->students['A']->id, 'identity1');
    }

    /**
     * Separate groups: in student A's attempt the sidecar recognised student B. The teacher of group A reads that
     * another student of the course was on camera, never who, in the report page, the web service and the live view;
     * the editing teacher, who may see every group, reads B's name.
     */
    public function test_recognised_student_of_another_group_is_not_named(): void {
        global $DB;
        $DB->update_record('user', ['id' => $this->students['B']->id, 'firstname' => 'Bea', 'lastname' => 'Bystander']);
        $this->students['B'] = \core_user::get_user($this->students['B']->id);
        [$quiz, $attempts] = $this->quiz_with_attempts(SEPARATEGROUPS);
        $this->recognise_b_in($attempts['A']);
        $bid = (int) $this->students['B']->id;
        $unnamed = get_string('live_verdict_substitution_unnamed', 'quizaccess_proctorpy');
        $named = get_string('live_verdict_substitution', 'quizaccess_proctorpy', 'Bea Bystander');
        $live = ['minutes' => 10, 'attempts' => [['attempt_id' => (int) $attempts['A']->id,
            'user_id' => (int) $this->students['A']->id, 'problems' => ['substitution'], 'last_shot' => [
                'id' => 'aaaaaaaaaaaaaaaaaaaa', 'verdict' => 'substitution', 'matched_user_id' => $bid,
                'matched_student' => 'Bea Bystander']]]];
        $inprogress = [$attempts['A']->id => (object) (['id' => $attempts['A']->id, 'userid' => $this->students['A']->id]
            + (array) $this->students['A'])];

        foreach ([[$this->assistant, false], [$this->teacher, true]] as [$viewer, $seesb]) {
            $html = self::report_page_as($viewer, ['cmid' => $quiz->cmid, 'attempt' => $attempts['A']->id]);
            $this->assertSame($seesb, str_contains($html, $named), fullname($viewer));
            $this->assertSame(!$seesb, str_contains($html, $unnamed), fullname($viewer));
            $this->assertSame($seesb, str_contains($html, 'Bystander'), fullname($viewer));

            $cm = self::cm_as($viewer, $quiz);
            $report = get_attempt_report::execute((int) $quiz->cmid, (int) $attempts['A']->id);
            $recognised = array_values(array_filter($report['camshots'], function (array $shot): bool {
                return $shot['verdict'] === 'substitution';
            }));
            $this->assertCount(1, $recognised);
            $this->assertSame($seesb ? $bid : null, $recognised[0]['matcheduserid']);
            $this->assertStringNotContainsString('Bystander', json_encode($report));

            $tiles = live_view::for_quiz($cm)->tiles($live, $inprogress);
            $this->assertSame($seesb ? $named : $unnamed, $tiles[0]['verdictlabel']);
            $this->assertSame($seesb, str_contains(json_encode($tiles), 'Bystander'));
        }
    }
}
