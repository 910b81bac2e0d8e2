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

/**
 * Tests of the backup and restore of proctoring settings.
 *
 * @package    quizaccess_proctorpy
 * @category   test
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy;

defined('MOODLE_INTERNAL') || die();

global $CFG;
require_once($CFG->dirroot . '/backup/util/includes/backup_includes.php');
require_once($CFG->dirroot . '/backup/util/includes/restore_includes.php');
require_once($CFG->dirroot . '/course/lib.php');

#[\PHPUnit\Framework\Attributes\CoversClass(\backup_quizaccess_proctorpy_subplugin::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\restore_quizaccess_proctorpy_subplugin::class)]
/**
 * A quiz's proctoring settings travel with Moodle's course backup, restore and duplicate.
 *
 * @covers \backup_quizaccess_proctorpy_subplugin
 * @covers \restore_quizaccess_proctorpy_subplugin
 */
final class backup_test extends \advanced_testcase {
    /** Settings of the proctored quiz, none of them a default. */
    const SETTINGS = [
        'enabled' => 1,
        'intervalmin' => 20,
        'intervalmax' => 45,
        'imagewidth' => 640,
        'identitycheck' => 'match',
        'threshold' => 75,
        'retentiondays' => 120,
        'alerts' => 0,
    ];

    /** @var \stdClass the course holding the quizzes */
    private $course;

    /**
     * An admin and a course for each test.
     */
    protected function setUp(): void {
        parent::setUp();
        $this->resetAfterTest();
        $this->setAdminUser();
        $this->course = $this->getDataGenerator()->create_course();
    }

    /**
     * A quiz in the test course, saved as the quiz form saves it.
     *
     * @param array|null $settings proctoring settings (without prefix), null for a quiz whose form had none
     * @param string $name quiz name
     * @return \stdClass the quiz, with its cmid
     */
    private function create_quiz(?array $settings, string $name = 'Quiz'): \stdClass {
        $record = ['course' => $this->course->id, 'name' => $name];
        foreach ($settings ?? [] as $name => $value) {
            $record['proctorpy_' . $name] = $value;
        }
        return $this->getDataGenerator()->create_module('quiz', $record);
    }

    /**
     * The stored settings of a quiz, without id, quiz id and time, or null when it has no row.
     *
     * @param int $quizid quiz id
     * @return array|null
     */
    private static function settings_of(int $quizid): ?array {
        global $DB;
        $row = $DB->get_record('quizaccess_proctorpy', ['quizid' => $quizid]);
        if (!$row) {
            return null;
        }
        $settings = [];
        foreach (array_keys(proctoring_settings::FIELDS) as $name) {
            $settings[$name] = $row->$name;
        }
        return $settings;
    }

    /**
     * Settings as they come back from the database: numbers as strings, null as null.
     *
     * @param array $settings settings with PHP types
     * @return array
     */
    private static function as_stored(array $settings): array {
        return array_map(function ($value) {
            return $value === null ? null : (string) $value;
        }, $settings);
    }

    /**
     * Back up the test course and restore it into a new course.
     *
     * @param bool $othersite whether the restore happens as if on another site
     * @param callable|null $edit called with the extracted backup's folder before the restore
     * @return int the new course's id
     */
    private function backup_and_restore_course(bool $othersite = false, ?callable $edit = null): int {
        global $CFG, $USER;
        $bc = new \backup_controller(
            \backup::TYPE_1COURSE,
            $this->course->id,
            \backup::FORMAT_MOODLE,
            \backup::INTERACTIVE_NO,
            \backup::MODE_GENERAL,
            $USER->id
        );
        $bc->execute_plan();
        $file = $bc->get_results()['backup_destination'];
        $bc->destroy();

        $backupid = 'quizaccess_proctorpy_backup_test';
        $file->extract_to_pathname(
            get_file_packer('application/vnd.moodle.backup'),
            $CFG->tempdir . '/backup/' . $backupid
        );
        if ($edit) {
            $edit($CFG->tempdir . '/backup/' . $backupid);
        }
        if ($othersite) {
            set_config('siteidentifier', random_string(32) . 'another site');
        }

        $newcourseid = \restore_dbops::create_new_course('Restored course', 'RESTORED', $this->course->category);
        $rc = new \restore_controller(
            $backupid,
            $newcourseid,
            \backup::INTERACTIVE_NO,
            \backup::MODE_GENERAL,
            $USER->id,
            \backup::TARGET_NEW_COURSE
        );
        $this->assertTrue($rc->execute_precheck());
        $this->assertSame(!$othersite, $rc->is_samesite());
        $rc->execute_plan();
        $rc->destroy();
        return $newcourseid;
    }

    /**
     * The quiz of a course with a given name.
     *
     * @param int $courseid course id
     * @param string $name quiz name
     * @return \stdClass
     */
    private static function quiz_named(int $courseid, string $name): \stdClass {
        global $DB;
        return $DB->get_record('quiz', ['course' => $courseid, 'name' => $name], '*', MUST_EXIST);
    }

    /**
     * Duplicating a proctored quiz gives the copy the same settings, in a row of its own.
     */
    public function test_duplicate_copies_settings(): void {
        $quiz = $this->create_quiz(self::SETTINGS);
        $this->assertSame(self::as_stored(self::SETTINGS), self::settings_of($quiz->id));

        $newcm = duplicate_module($this->course, get_fast_modinfo($this->course)->get_cm($quiz->cmid));

        $this->assertNotEquals($quiz->id, $newcm->instance);
        $this->assertSame(self::as_stored(self::SETTINGS), self::settings_of($newcm->instance));
        $this->assertSame(self::as_stored(self::SETTINGS), self::settings_of($quiz->id));
    }

    /**
     * Duplicating a quiz without proctoring adds no settings row.
     */
    public function test_duplicate_without_proctoring_stays_without(): void {
        global $DB;
        $quiz = $this->create_quiz(null);
        $this->assertNull(self::settings_of($quiz->id));

        $newcm = duplicate_module($this->course, get_fast_modinfo($this->course)->get_cm($quiz->cmid));

        $this->assertNull(self::settings_of($newcm->instance));
        $this->assertSame(0, $DB->count_records('quizaccess_proctorpy'));
    }

    /**
     * A course restored into a new course keeps each quiz's settings, and its quizzes without
     * proctoring stay without; the settings kept while proctoring was switched off come too.
     */
    public function test_course_restore_into_new_course(): void {
        global $DB;
        $proctored = $this->create_quiz(self::SETTINGS, 'Proctored');
        $this->create_quiz(null, 'Plain');
        $switchedoff = array_merge(self::SETTINGS, ['enabled' => 0, 'retentiondays' => null]);
        $off = $this->create_quiz(self::SETTINGS, 'Switched off');
        $DB->set_field('quizaccess_proctorpy', 'enabled', 0, ['quizid' => $off->id]);
        $DB->set_field('quizaccess_proctorpy', 'retentiondays', null, ['quizid' => $off->id]);
        $this->assertSame(2, $DB->count_records('quizaccess_proctorpy'));

        $newcourseid = $this->backup_and_restore_course();

        $this->assertSame(4, $DB->count_records('quizaccess_proctorpy'));
        $this->assertSame(self::as_stored(self::SETTINGS), self::settings_of(self::quiz_named($newcourseid, 'Proctored')->id));
        $this->assertNull(self::settings_of(self::quiz_named($newcourseid, 'Plain')->id));
        $this->assertSame(self::as_stored($switchedoff), self::settings_of(self::quiz_named($newcourseid, 'Switched off')->id));
        $this->assertSame(self::as_stored(self::SETTINGS), self::settings_of($proctored->id));
    }

    /**
     * A backup restored on another site keeps the values as they were, not the site's defaults.
     */
    public function test_restore_on_another_site_keeps_values(): void {
        set_config('intervalmin', 50, 'quizaccess_proctorpy');
        set_config('threshold', 10, 'quizaccess_proctorpy');
        $this->create_quiz(self::SETTINGS, 'Proctored');

        $newcourseid = $this->backup_and_restore_course(true);

        $restored = self::quiz_named($newcourseid, 'Proctored');
        $this->assertSame(self::as_stored(self::SETTINGS), self::settings_of($restored->id));
        // The access manager loads them with the quiz as it did on the first site.
        $quizobj = \mod_quiz\quiz_settings::create($restored->id);
        $this->assertTrue(proctoring_settings::is_enabled($quizobj->get_quiz()));
        $this->assertSame(['interval_min' => 20, 'interval_max' => 45, 'identity_check' => 'match', 'threshold' => 75,
            'retention_days' => 120], proctoring_settings::snapshot($quizobj->get_quiz()));
    }

    /**
     * A backup made before the alerts setting existed restores with alerts on, its other values kept.
     */
    public function test_restore_of_a_backup_without_alerts_turns_them_on(): void {
        $this->create_quiz(self::SETTINGS, 'Proctored');

        $newcourseid = $this->backup_and_restore_course(false, function (string $folder): void {
            foreach (glob($folder . '/activities/quiz_*/quiz.xml') as $file) {
                $xml = file_get_contents($file);
                $this->assertStringContainsString('<alerts>0</alerts>', $xml);
                file_put_contents($file, str_replace('<alerts>0</alerts>', '', $xml));
            }
        });

        $restored = self::settings_of(self::quiz_named($newcourseid, 'Proctored')->id);
        $this->assertSame(self::as_stored(array_merge(self::SETTINGS, ['alerts' => 1])), $restored);
    }
}
