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
use quizaccess_proctorpy\local\proctored_attempt;
use quizaccess_proctorpy\tests\proctorpy_helper;

#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\external\get_overview::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\external\get_attempt_report::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\local\image_proxy::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\local\page_access::class)]
/**
 * Tests of the reports' web service functions and the pluginfile areas of their images, against a live sidecar.
 *
 * The sidecar is named by PROCTORPY_TEST_SIDECAR_URL and PROCTORPY_TEST_SIDECAR_SECRET; without them these tests fail.
 *
 * @package    quizaccess_proctorpy
 * @category   test
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 * @covers     \quizaccess_proctorpy\external\get_overview
 * @covers     \quizaccess_proctorpy\external\get_attempt_report
 * @covers     \quizaccess_proctorpy\local\image_proxy
 * @covers     \quizaccess_proctorpy\local\page_access
 */
final class report_external_test extends \advanced_testcase {
    use proctorpy_helper;

    /** @var sidecar_client the plugin's client of the live sidecar */
    private $client;
    /** @var \stdClass the course */
    private $course;
    /** @var \stdClass student of group A */
    private $student;
    /** @var \stdClass student of group B */
    private $otherstudent;
    /** @var \stdClass the editing teacher */
    private $teacher;
    /** @var \stdClass a non-editing teacher of group B */
    private $assistant;
    /** @var \stdClass the proctored quiz, in separate groups mode */
    private $quiz;
    /** @var \stdClass the attempt of the student of group A: an hour, one camshot, one event, submitted */
    private $attempt;
    /** @var \stdClass the attempt of the student of group B */
    private $otherattempt;
    /** @var string the camshot of the first attempt */
    private $camshotid;

    /**
     * Two students in two groups, each with a submitted attempt at a proctored quiz in separate groups mode.
     */
    protected function setUp(): void {
        global $DB;
        parent::setUp();
        $this->resetAfterTest();
        $this->client = $this->use_live_sidecar();
        // The first attempt is flagged: its alert is caught here.
        $this->redirectMessages();
        [$this->course, $this->student, $this->teacher] = $this->create_course_with_users();
        $generator = $this->getDataGenerator();
        $this->otherstudent = $generator->create_and_enrol($this->course, 'student');
        $this->assistant = $generator->create_and_enrol($this->course, 'teacher');
        $groupa = $generator->create_group(['courseid' => $this->course->id]);
        $groupb = $generator->create_group(['courseid' => $this->course->id]);
        $generator->create_group_member(['groupid' => $groupa->id, 'userid' => $this->student->id]);
        $generator->create_group_member(['groupid' => $groupb->id, 'userid' => $this->otherstudent->id]);
        $generator->create_group_member(['groupid' => $groupb->id, 'userid' => $this->assistant->id]);
        $this->quiz = $this->create_quiz($this->course, [], ['groupmode' => SEPARATEGROUPS]);

        $this->attempt = $this->start_attempt($this->quiz, $this->student);
        $DB->set_field('quiz_attempts', 'timestart', time() - 3600, ['id' => $this->attempt->id]);
        proctored_attempt::load((int) $this->attempt->id, $this->client)->register();
        $this->camshotid = $this->client->image('POST', api::camshots(), ['attempt_id' => (int) $this->attempt->id,
            'user_id' => (int) $this->student->id, 'taken_at' => (int) (microtime(true) * 1000), 'client_shot_id' => 'ws1',
            'kind' => 'attempt'], self::image_bytes(), 'image/png')['id'];
        $this->client->json('POST', api::events(), ['attempt_id' => (int) $this->attempt->id,
            'user_id' => (int) $this->student->id, 'type' => 'tab_hidden', 'at' => (int) (microtime(true) * 1000),
            'client_event_id' => 'ev1']);
        $this->finish_attempt($this->attempt);
        $this->otherattempt = $this->start_attempt($this->quiz, $this->otherstudent);
        $this->finish_attempt($this->otherattempt);
    }

    /**
     * Call a function as the web service server does, its answer checked against its declared returns.
     *
     * @param string $name function name without the component prefix
     * @param array $args arguments
     * @return array data, or the exception's errorcode
     */
    private static function call(string $name, array $args): array {
        $class = '\\quizaccess_proctorpy\\external\\' . $name;
        try {
            $answer = $class::execute(...array_values($args + ($name === 'get_overview' ? ['groupid' => 0] : [])));
        } catch (\moodle_exception $e) {
            return ['error' => $e->errorcode, 'message' => $e->getMessage()];
        }
        return external_api::clean_returnvalue($class::execute_returns(), $answer);
    }

    /**
     * Both functions are declared, read-only, in the service for other tools, which may download files.
     */
    public function test_functions_and_service_are_declared(): void {
        global $DB;
        foreach (['get_overview', 'get_attempt_report'] as $name) {
            $info = external_api::external_function_info('quizaccess_proctorpy_' . $name);
            $this->assertSame('read', $info->type);
            $this->assertSame('quizaccess/proctorpy:viewreport', $info->capabilities);
        }
        $service = $DB->get_record('external_services', ['shortname' => 'quizaccess_proctorpy_reports'], '*', MUST_EXIST);
        $this->assertSame('Proctoring reports (proctorpy)', $service->name);
        $this->assertEquals(1, $service->downloadfiles);
        $this->assertEquals(0, $service->restrictedusers);
        $this->assertEqualsCanonicalizing(
            ['quizaccess_proctorpy_get_overview', 'quizaccess_proctorpy_get_attempt_report'],
            $DB->get_fieldset_select('external_services_functions', 'functionname', 'externalserviceid = ?', [$service->id])
        );
    }

    /**
     * The teacher gets every attempt with its metrics, score, flag and report address.
     */
    public function test_overview_for_the_teacher(): void {
        $this->setUser($this->teacher);
        $answer = self::call('get_overview', ['cmid' => $this->quiz->cmid]);
        $this->assertArrayNotHasKey('error', $answer, json_encode($answer));
        $this->assertEquals($this->quiz->id, $answer['quizid']);
        $byid = array_column($answer['attempts'], null, 'attemptid');
        $this->assertEqualsCanonicalizing([(int) $this->attempt->id, (int) $this->otherattempt->id], array_keys($byid));
        $row = $byid[(int) $this->attempt->id];
        $sidecar = $this->sidecar_attempt($this->client, $this->attempt->id)['score'];
        $this->assertEquals($sidecar['value'], $row['score']);
        $this->assertTrue($row['flagged']);
        $this->assertSame('Émile Zoë', $row['student']);
        $this->assertSame(1, $row['shots']);
        $this->assertSame(1, $row['events']);
        $this->assertEqualsCanonicalizing(['no_face', 'multiple_faces', 'mismatch', 'substitution', 'camera_off',
            'focus_lost'], array_column($row['metrics'], 'name'));
        $this->assertStringContainsString('attempt=' . $this->attempt->id, $row['reporturl']);
        $this->assertNull($byid[(int) $this->otherattempt->id]['score'], 'Too short to be scored');
    }

    /**
     * The teacher gets one attempt: score, metrics, events, camshots with verdicts and image addresses through
     * webservice/pluginfile.php.
     */
    public function test_attempt_report_for_the_teacher(): void {
        $this->setUser($this->teacher);
        $answer = self::call('get_attempt_report', ['cmid' => $this->quiz->cmid, 'attemptid' => $this->attempt->id]);
        $this->assertArrayNotHasKey('error', $answer);
        $this->assertSame((int) $this->student->id, $answer['attempt']['userid']);
        $this->assertSame('finished', $answer['attempt']['state']);
        $this->assertTrue($answer['score']['scored']);
        $this->assertTrue($answer['score']['flagged']);
        $this->assertEquals(60, $answer['score']['threshold']);
        $this->assertStringStartsWith('E = max(0, 100', $answer['score']['formula']);
        $this->assertCount(6, $answer['score']['metrics']);
        $this->assertSame(['tab_hidden'], array_column($answer['events'], 'type'));
        $this->assertCount(1, $answer['camshots']);
        $shot = $answer['camshots'][0];
        $this->assertSame($this->camshotid, $shot['id']);
        $this->assertSame('attempt', $shot['kind']);
        $context = \context_module::instance($this->quiz->cmid);
        $base = (new \moodle_url('/webservice/pluginfile.php'))->out(false) . '/' . $context->id . '/quizaccess_proctorpy/';
        $this->assertSame($base . 'thumb/' . $this->attempt->id . '/' . $this->camshotid . '.png', $shot['thumburl']);
        $this->assertSame($base . 'camshot/' . $this->attempt->id . '/' . $this->camshotid . '.png', $shot['imageurl']);
        $this->assertSame('', $answer['review']['conclusion']);
    }

    /**
     * A student, and a user outside the course, are refused both functions.
     */
    public function test_refused_without_the_capability(): void {
        foreach ([$this->student, $this->getDataGenerator()->create_user()] as $user) {
            $this->setUser($user);
            $this->assertArrayHasKey('error', self::call('get_overview', ['cmid' => $this->quiz->cmid]));
            $this->assertArrayHasKey('error', self::call('get_attempt_report', ['cmid' => $this->quiz->cmid,
                'attemptid' => $this->attempt->id]));
        }
        $this->setUser($this->student);
        $this->assertSame('nopermissions', self::call('get_overview', ['cmid' => $this->quiz->cmid])['error']);
    }

    /**
     * A non-editing teacher of group B gets only group B's attempt, never group A's report, nor a group not theirs;
     * images come as thumbnails only.
     */
    public function test_groups_are_respected(): void {
        $this->setUser($this->assistant);
        $answer = self::call('get_overview', ['cmid' => $this->quiz->cmid]);
        $this->assertSame([(int) $this->otherattempt->id], array_column($answer['attempts'], 'attemptid'));
        $this->assertSame('nopermissions', self::call('get_attempt_report', ['cmid' => $this->quiz->cmid,
            'attemptid' => $this->attempt->id])['error']);
        $groupa = groups_get_all_groups($this->course->id, $this->student->id);
        $this->assertSame('nopermissions', self::call('get_overview', ['cmid' => $this->quiz->cmid,
            'groupid' => array_key_first($groupa)])['error']);
        $report = self::call('get_attempt_report', ['cmid' => $this->quiz->cmid, 'attemptid' => $this->otherattempt->id]);
        $this->assertArrayNotHasKey('error', $report);

        $this->setUser($this->teacher);
        $answer = self::call('get_overview', ['cmid' => $this->quiz->cmid, 'groupid' => array_key_first($groupa)]);
        $this->assertSame([(int) $this->attempt->id], array_column($answer['attempts'], 'attemptid'));
    }

    /**
     * The pluginfile areas refuse the image to a user without the capability: a student, a non-editing teacher at
     * full size, and anyone for an attempt of a student outside their groups; an unknown area is not theirs.
     */
    public function test_pluginfile_refuses_without_the_capability(): void {
        global $CFG;
        require_once($CFG->dirroot . '/mod/quiz/accessrule/proctorpy/lib.php');
        $context = \context_module::instance($this->quiz->cmid);
        $cm = get_coursemodule_from_id('quiz', $this->quiz->cmid);
        $serve = function (string $area, int $attemptid) use ($context, $cm) {
            global $PAGE;
            // Each file request is a page of its own.
            $PAGE = new \moodle_page();
            return quizaccess_proctorpy_pluginfile(
                $this->course,
                $cm,
                $context,
                $area,
                [$attemptid, $this->camshotid . '.png'],
                false
            );
        };
        $refusals = [
            'student thumbnail' => [$this->student, 'thumb', $this->attempt->id],
            'assistant full size' => [$this->assistant, 'camshot', $this->otherattempt->id],
            'assistant other group' => [$this->assistant, 'thumb', $this->attempt->id],
        ];
        foreach ($refusals as $case => [$user, $area, $attemptid]) {
            $this->setUser($user);
            try {
                $serve($area, (int) $attemptid);
                $this->fail($case . ' was served');
            } catch (\required_capability_exception $e) {
                $this->assertStringContainsString('nopermissions', $e->errorcode, $case);
            }
        }
        $this->setUser($this->teacher);
        $this->assertFalse($serve('other', (int) $this->attempt->id));
        $this->assertFalse(quizaccess_proctorpy_pluginfile(
            $this->course,
            $cm,
            $context,
            'thumb',
            [$this->attempt->id, '../secret.png'],
            false
        ));
    }
}
