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
require_once($CFG->dirroot . '/course/modlib.php');
require_once($CFG->dirroot . '/mod/quiz/lib.php');
require_once($CFG->dirroot . '/mod/quiz/mod_form.php');
require_once($CFG->dirroot . '/mod/quiz/accessrule/proctorpy/rule.php');

#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\proctoring_settings::class)]
/**
 * Tests of a quiz's proctoring settings: the quiz form's fields and validation, saving, loading and deleting them.
 *
 * @package    quizaccess_proctorpy
 * @category   test
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 * @covers     \quizaccess_proctorpy
 * @covers     \quizaccess_proctorpy\proctoring_settings
 */
final class quiz_settings_test extends \advanced_testcase {
    use proctorpy_helper;

    /** @var \stdClass the course */
    private $course;

    /**
     * A course, edited by the admin.
     */
    protected function setUp(): void {
        parent::setUp();
        $this->resetAfterTest();
        $this->setAdminUser();
        $this->course = $this->getDataGenerator()->create_course();
    }

    /**
     * The quiz's editing form, as course/modedit.php builds it.
     *
     * @param \stdClass $quiz the quiz
     * @return \mod_quiz_mod_form
     */
    private function edit_form(\stdClass $quiz): \mod_quiz_mod_form {
        global $PAGE;
        [$cm, , , $data, $cw] = get_moduleinfo_data(get_coursemodule_from_id('quiz', $quiz->cmid), $this->course);
        // The form reads the course's sections through $COURSE, which set_cm() sets as modedit.php's require_login() does.
        $PAGE->set_cm($cm, $this->course);
        $PAGE->set_url('/course/modedit.php', ['update' => $quiz->cmid]);
        $form = new \mod_quiz_mod_form($data, $cw->section, $cm, $this->course);
        $form->set_data($data);
        return $form;
    }

    /**
     * The QuickForm inside a moodleform.
     *
     * @param \moodleform $form the form
     * @return \MoodleQuickForm
     */
    private static function quickform(\moodleform $form): \MoodleQuickForm {
        return (new \ReflectionProperty($form, '_form'))->getValue($form);
    }

    /**
     * Submit the quiz form with its current values changed, as a teacher saving it does.
     *
     * @param \stdClass $quiz the quiz
     * @param array $changes submitted values that differ from what the form shows
     * @return array [the form's data or null when it does not validate, the errors]
     */
    private function submit_form(\stdClass $quiz, array $changes): array {
        $mform = self::quickform($this->edit_form($quiz));
        $values = $mform->exportValues();
        // Exported values are the stored ones; a browser submits durations and dates as their parts.
        foreach ($mform->_elements as $element) {
            $name = $element->getName();
            if ($element->getType() === 'duration' && isset($values[$name])) {
                $values[$name] = ['number' => $values[$name], 'timeunit' => 1];
            } else if (in_array($element->getType(), ['date_time_selector', 'date_selector']) && empty($values[$name])) {
                unset($values[$name]);
            }
        }
        // The availability editor's field is filled by JavaScript; no restrictions is an empty one.
        $values += ['availabilityconditionsjson' => ''];
        \mod_quiz_mod_form::mock_submit(array_merge($values, $changes));
        $form = $this->edit_form($quiz);
        $data = $form->get_data();
        return [$data, self::quickform($form)->_errors];
    }

    /**
     * The quiz form has the proctoring fields, with the site's defaults for a quiz that has no settings yet.
     */
    public function test_form_fields_take_site_defaults(): void {
        set_config('intervalmin', 15, 'quizaccess_proctorpy');
        set_config('intervalmax', 45, 'quizaccess_proctorpy');
        set_config('imagewidth', 640, 'quizaccess_proctorpy');
        set_config('threshold', 75, 'quizaccess_proctorpy');
        $mform = self::quickform($this->edit_form($this->create_quiz($this->course, null)));

        $this->assertTrue($mform->elementExists('proctorpyheader'));
        $expected = ['proctorpy_enabled' => ['0'], 'proctorpy_intervalmin' => '15', 'proctorpy_intervalmax' => '45',
            'proctorpy_imagewidth' => '640', 'proctorpy_threshold' => '75', 'proctorpy_retentiondays' => '',
            'proctorpy_identitycheck' => ['none'], 'proctorpy_alerts' => ['1']];
        foreach ($expected as $name => $value) {
            $this->assertEquals($value, $mform->getElement($name)->getValue(), $name);
        }
        $choices = [];
        foreach ($mform->getElement('proctorpy_identitycheck')->_options as $option) {
            $choices[] = $option['attr']['value'];
        }
        $this->assertSame(['none', 'face', 'match'], $choices);
    }

    /**
     * A proctored quiz's form shows its stored settings.
     */
    public function test_form_shows_stored_settings(): void {
        $quiz = $this->create_quiz($this->course, ['intervalmin' => 10, 'intervalmax' => 20, 'imagewidth' => 800,
            'identitycheck' => 'match', 'threshold' => 40, 'retentiondays' => 30, 'alerts' => 0]);
        $mform = self::quickform($this->edit_form($quiz));
        $expected = ['proctorpy_enabled' => ['1'], 'proctorpy_intervalmin' => '10', 'proctorpy_intervalmax' => '20',
            'proctorpy_imagewidth' => '800', 'proctorpy_threshold' => '40', 'proctorpy_retentiondays' => '30',
            'proctorpy_identitycheck' => ['match'], 'proctorpy_alerts' => ['0']];
        foreach ($expected as $name => $value) {
            $this->assertEquals($value, $mform->getElement($name)->getValue(), $name);
        }
    }

    /**
     * Data for the form's validation: changes to a valid submission and the field that must refuse them.
     *
     * @return array
     */
    public static function invalid_settings_provider(): array {
        return [
            'interval min above max' => [['proctorpy_intervalmin' => '60', 'proctorpy_intervalmax' => '30'],
                'proctorpy_intervalmax', 'err_intervalorder'],
            'interval min too short' => [['proctorpy_intervalmin' => '4'], 'proctorpy_intervalmin', 'err_interval'],
            'interval max too long' => [['proctorpy_intervalmax' => '3601'], 'proctorpy_intervalmax', 'err_interval'],
            'interval not a number' => [['proctorpy_intervalmin' => '12abc'], 'proctorpy_intervalmin', 'err_interval'],
            'width too narrow' => [['proctorpy_imagewidth' => '159'], 'proctorpy_imagewidth', 'err_imagewidth'],
            'width too wide' => [['proctorpy_imagewidth' => '1921'], 'proctorpy_imagewidth', 'err_imagewidth'],
            'threshold below 0' => [['proctorpy_threshold' => '-1'], 'proctorpy_threshold', 'err_threshold'],
            'threshold above 100' => [['proctorpy_threshold' => '101'], 'proctorpy_threshold', 'err_threshold'],
            'threshold a fraction' => [['proctorpy_threshold' => '50.5'], 'proctorpy_threshold', 'err_threshold'],
            'retention zero' => [['proctorpy_retentiondays' => '0'], 'proctorpy_retentiondays', 'err_retentiondays'],
            'retention too long' => [['proctorpy_retentiondays' => '3651'], 'proctorpy_retentiondays', 'err_retentiondays'],
            'unknown identity check' => [['proctorpy_identitycheck' => 'retina'], 'proctorpy_identitycheck',
                'err_identitycheck'],
        ];
    }

    /**
     * Out of range values are refused on their own field, with a message that names the limits.
     *
     * @dataProvider invalid_settings_provider
     * @param array $changes submitted values
     * @param string $field field that must carry the error
     * @param string $stringid its message
     */
    #[\PHPUnit\Framework\Attributes\DataProvider('invalid_settings_provider')]
    public function test_validation_refuses(array $changes, string $field, string $stringid): void {
        $quiz = $this->create_quiz($this->course, null);
        $submitted = array_merge(['proctorpy_enabled' => 1, 'proctorpy_intervalmin' => '30', 'proctorpy_intervalmax' => '90',
            'proctorpy_imagewidth' => '320', 'proctorpy_threshold' => '60', 'proctorpy_retentiondays' => '',
            'proctorpy_identitycheck' => 'none'], $changes);
        $errors = \quizaccess_proctorpy::validate_settings_form_fields([], $submitted, [], $this->edit_form($quiz));
        $a = null;
        if (in_array($stringid, ['err_interval', 'err_imagewidth'])) {
            $a = $stringid === 'err_interval' ? ['min' => 5, 'max' => 3600] : ['min' => 160, 'max' => 1920];
        } else if ($stringid === 'err_retentiondays') {
            $a = 3650;
        }
        $this->assertSame([$field => get_string($stringid, 'quizaccess_proctorpy', $a)], $errors);
    }

    /**
     * The limits themselves are accepted, and nothing is checked while proctoring is off.
     */
    public function test_validation_accepts_limits_and_ignores_disabled(): void {
        $quiz = $this->create_quiz($this->course, null);
        $form = $this->edit_form($quiz);
        $limits = ['proctorpy_enabled' => 1, 'proctorpy_intervalmin' => '5', 'proctorpy_intervalmax' => '3600',
            'proctorpy_imagewidth' => '160', 'proctorpy_threshold' => '0', 'proctorpy_retentiondays' => '3650',
            'proctorpy_identitycheck' => 'match'];
        $this->assertSame([], \quizaccess_proctorpy::validate_settings_form_fields([], $limits, [], $form));
        $upper = ['proctorpy_intervalmin' => '3600', 'proctorpy_imagewidth' => '1920', 'proctorpy_threshold' => '100',
            'proctorpy_retentiondays' => '1'] + $limits;
        $this->assertSame([], \quizaccess_proctorpy::validate_settings_form_fields([], $upper, [], $form));
        $off = ['proctorpy_enabled' => 0, 'proctorpy_intervalmin' => 'x', 'proctorpy_threshold' => '500'];
        $this->assertSame([], \quizaccess_proctorpy::validate_settings_form_fields([], $off, [], $form));
    }

    /**
     * Saving the real quiz form with bad settings fails on those fields; with good ones it stores them.
     */
    public function test_submitting_the_quiz_form(): void {
        global $DB;
        $quiz = $this->create_quiz($this->course, null);
        [$data, $errors] = $this->submit_form($quiz, ['proctorpy_enabled' => 1, 'proctorpy_intervalmin' => '60',
            'proctorpy_intervalmax' => '30', 'proctorpy_imagewidth' => '99']);
        $this->assertNull($data);
        $this->assertSame(['proctorpy_intervalmax', 'proctorpy_imagewidth'], array_keys($errors));

        [$data, $errors] = $this->submit_form($quiz, ['proctorpy_enabled' => 1, 'proctorpy_intervalmin' => '20',
            'proctorpy_intervalmax' => '40', 'proctorpy_imagewidth' => '480', 'proctorpy_threshold' => '70',
            'proctorpy_retentiondays' => '90', 'proctorpy_identitycheck' => 'face', 'proctorpy_alerts' => '0']);
        $this->assertSame([], $errors);
        $this->assertNotNull($data);
        update_moduleinfo(get_coursemodule_from_id('quiz', $quiz->cmid), $data, $this->course);

        $row = $DB->get_record('quizaccess_proctorpy', ['quizid' => $quiz->id], '*', MUST_EXIST);
        $this->assertEquals(
            ['enabled' => 1, 'intervalmin' => 20, 'intervalmax' => 40, 'imagewidth' => 480,
            'identitycheck' => 'face', 'threshold' => 70, 'retentiondays' => 90, 'alerts' => 0],
            array_intersect_key((array) $row, proctoring_settings::FIELDS)
        );
    }

    /**
     * Settings saved by the rule come back with the quiz, prefixed, as the access manager loads it.
     */
    public function test_save_settings_and_load_round_trip(): void {
        global $DB;
        $quiz = $this->create_quiz($this->course, null);
        \quizaccess_proctorpy::save_settings((object) ['id' => $quiz->id, 'proctorpy_enabled' => '1',
            'proctorpy_intervalmin' => ' 25 ', 'proctorpy_intervalmax' => '50', 'proctorpy_imagewidth' => '640',
            'proctorpy_identitycheck' => 'match', 'proctorpy_threshold' => '55', 'proctorpy_retentiondays' => '']);
        $loaded = $this->quiz_settings($quiz)->get_quiz();
        $this->assertEquals(1, $loaded->proctorpy_enabled);
        $this->assertEquals(25, $loaded->proctorpy_intervalmin);
        $this->assertEquals(50, $loaded->proctorpy_intervalmax);
        $this->assertEquals(640, $loaded->proctorpy_imagewidth);
        $this->assertEquals('match', $loaded->proctorpy_identitycheck);
        $this->assertEquals(55, $loaded->proctorpy_threshold);
        $this->assertNull($loaded->proctorpy_retentiondays, 'Empty retention is the site\'s policy');
        $this->assertTrue(proctoring_settings::is_enabled($loaded));

        // Saved again: one row, updated.
        \quizaccess_proctorpy::save_settings((object) ['id' => $quiz->id, 'proctorpy_enabled' => 1,
            'proctorpy_intervalmin' => 30, 'proctorpy_intervalmax' => 60, 'proctorpy_imagewidth' => 320,
            'proctorpy_identitycheck' => 'none', 'proctorpy_threshold' => 60, 'proctorpy_retentiondays' => 7]);
        $this->assertSame(1, $DB->count_records('quizaccess_proctorpy', ['quizid' => $quiz->id]));
        $this->assertEquals(7, $this->quiz_settings($quiz)->get_quiz()->proctorpy_retentiondays);
    }

    /**
     * Turning proctoring off keeps the other settings; saving without the quiz form changes nothing.
     */
    public function test_save_settings_disabled_and_without_form(): void {
        global $DB;
        $quiz = $this->create_quiz($this->course, ['intervalmin' => 11, 'intervalmax' => 22]);
        \quizaccess_proctorpy::save_settings((object) ['id' => $quiz->id, 'proctorpy_enabled' => 0,
            'proctorpy_intervalmin' => 'ignored']);
        $row = $DB->get_record('quizaccess_proctorpy', ['quizid' => $quiz->id], '*', MUST_EXIST);
        $this->assertEquals(0, $row->enabled);
        $this->assertEquals(11, $row->intervalmin);
        $this->assertNull(\quizaccess_proctorpy::make($this->quiz_settings($quiz), time(), false));

        \quizaccess_proctorpy::save_settings((object) ['id' => $quiz->id, 'name' => 'Saved by a web service']);
        $this->assertEquals($row, $DB->get_record('quizaccess_proctorpy', ['quizid' => $quiz->id]));

        $plain = $this->create_quiz($this->course, null);
        \quizaccess_proctorpy::save_settings((object) ['id' => $plain->id, 'proctorpy_enabled' => 0]);
        $this->assertFalse(
            $DB->record_exists('quizaccess_proctorpy', ['quizid' => $plain->id]),
            'No row for a quiz that was never proctored'
        );
    }

    /**
     * Proctoring turned on without the form's other fields (a generator, a web service) takes the site's defaults.
     */
    public function test_enabled_without_other_fields_takes_defaults(): void {
        global $DB;
        set_config('intervalmin', 25, 'quizaccess_proctorpy');
        $quiz = $this->getDataGenerator()->create_module('quiz', ['course' => $this->course->id,
            'proctorpy_enabled' => 1]);
        $row = $DB->get_record('quizaccess_proctorpy', ['quizid' => $quiz->id], '*', MUST_EXIST);
        $this->assertEquals(
            ['enabled' => 1, 'intervalmin' => 25, 'intervalmax' => 90, 'imagewidth' => 320,
            'identitycheck' => 'none', 'threshold' => 60, 'retentiondays' => null, 'alerts' => 1],
            array_intersect_key((array) $row, proctoring_settings::FIELDS)
        );
    }

    /**
     * A quiz without settings loads with proctoring off and the site's current defaults.
     */
    public function test_quiz_without_settings_loads_site_defaults(): void {
        set_config('intervalmin', 40, 'quizaccess_proctorpy');
        set_config('intervalmax', 80, 'quizaccess_proctorpy');
        set_config('imagewidth', 400, 'quizaccess_proctorpy');
        set_config('threshold', 65, 'quizaccess_proctorpy');
        $loaded = $this->quiz_settings($this->create_quiz($this->course, null))->get_quiz();
        $this->assertEquals(0, $loaded->proctorpy_enabled);
        $this->assertEquals(40, $loaded->proctorpy_intervalmin);
        $this->assertEquals(80, $loaded->proctorpy_intervalmax);
        $this->assertEquals(400, $loaded->proctorpy_imagewidth);
        $this->assertEquals('none', $loaded->proctorpy_identitycheck);
        $this->assertEquals(65, $loaded->proctorpy_threshold);
        $this->assertNull($loaded->proctorpy_retentiondays);
    }

    /**
     * The settings are created with the quiz by the quiz generator (quiz_add_instance) and deleted with it.
     */
    public function test_settings_created_and_deleted_with_the_quiz(): void {
        global $DB;
        $quiz = $this->getDataGenerator()->create_module('quiz', ['course' => $this->course->id,
            'proctorpy_enabled' => 1, 'proctorpy_intervalmin' => 30, 'proctorpy_intervalmax' => 90,
            'proctorpy_imagewidth' => 320, 'proctorpy_identitycheck' => 'face', 'proctorpy_threshold' => 60]);
        $other = $this->create_quiz($this->course);
        $this->assertTrue($DB->record_exists('quizaccess_proctorpy', ['quizid' => $quiz->id, 'identitycheck' => 'face']));

        \quizaccess_proctorpy::delete_settings($quiz);
        $this->assertFalse($DB->record_exists('quizaccess_proctorpy', ['quizid' => $quiz->id]));

        $sink = $this->redirectEvents();
        quiz_delete_instance($other->id);
        $sink->close();
        $this->assertFalse($DB->record_exists('quizaccess_proctorpy', ['quizid' => $other->id]));
    }
}
