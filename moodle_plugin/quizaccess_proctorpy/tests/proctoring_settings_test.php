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
 * Tests of per-quiz settings validation and conversion.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy;

#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\proctoring_settings::class)]
/**
 * Validation messages, table rows and the snapshot sent to the sidecar.
 *
 * @covers \quizaccess_proctorpy\proctoring_settings
 */
final class proctoring_settings_test extends \basic_testcase {
    /**
     * Valid form data with proctoring on, overridden by $changes.
     *
     * @param array $changes field (without prefix) => value
     * @return array
     */
    private static function form(array $changes = []): array {
        $data = ['enabled' => 1, 'intervalmin' => '30', 'intervalmax' => '90', 'imagewidth' => '480',
            'identitycheck' => 'match', 'threshold' => '60', 'retentiondays' => '', 'alerts' => '1'];
        $form = [];
        foreach (array_merge($data, $changes) as $name => $value) {
            $form['proctorpy_' . $name] = $value;
        }
        return $form;
    }

    /**
     * Each bad value and the error it gets.
     *
     * @return array
     */
    public static function bad_values(): array {
        return [
            'interval min too short' => [['intervalmin' => '2'], 'proctorpy_intervalmin', 'err_interval'],
            'interval min not a number' => [['intervalmin' => 'ten'], 'proctorpy_intervalmin', 'err_interval'],
            'interval min decimal' => [['intervalmin' => '30.5'], 'proctorpy_intervalmin', 'err_interval'],
            'interval max too long' => [['intervalmax' => '3601'], 'proctorpy_intervalmax', 'err_interval'],
            'interval max below min' => [['intervalmin' => '60', 'intervalmax' => '30'], 'proctorpy_intervalmax',
                'err_intervalorder'],
            'width too small' => [['imagewidth' => '100'], 'proctorpy_imagewidth', 'err_imagewidth'],
            'width too large' => [['imagewidth' => '4000'], 'proctorpy_imagewidth', 'err_imagewidth'],
            'unknown identity check' => [['identitycheck' => 'iris'], 'proctorpy_identitycheck', 'err_identitycheck'],
            'threshold above 100' => [['threshold' => '101'], 'proctorpy_threshold', 'err_threshold'],
            'threshold negative' => [['threshold' => '-1'], 'proctorpy_threshold', 'err_threshold'],
            'retention zero' => [['retentiondays' => '0'], 'proctorpy_retentiondays', 'err_retentiondays'],
            'retention words' => [['retentiondays' => 'forever'], 'proctorpy_retentiondays', 'err_retentiondays'],
        ];
    }

    /**
     * A bad value is reported on its own field, with its own message, and nothing else is.
     *
     * @dataProvider bad_values
     * @param array $changes the bad values
     * @param string $field field that must carry the error
     * @param string $stringid expected lang string id
     */
    #[\PHPUnit\Framework\Attributes\DataProvider('bad_values')]
    public function test_bad_value_is_reported_on_its_field(array $changes, string $field, string $stringid): void {
        $errors = proctoring_settings::validate(self::form($changes));
        $this->assertSame([$field], array_keys($errors));
        $this->assertSame($stringid, $errors[$field][0]);
    }

    /**
     * Interval errors carry the limits the message shows.
     */
    public function test_interval_error_names_limits(): void {
        $errors = proctoring_settings::validate(self::form(['intervalmin' => '1']));
        $this->assertSame(['min' => 5, 'max' => 3600], $errors['proctorpy_intervalmin'][1]);
    }

    /**
     * Good values pass, including the edges and an empty retention override.
     */
    public function test_valid_values_pass(): void {
        $this->assertSame([], proctoring_settings::validate(self::form()));
        $this->assertSame([], proctoring_settings::validate(self::form([
            'intervalmin' => '5', 'intervalmax' => '5', 'imagewidth' => '1920', 'threshold' => '0',
            'identitycheck' => 'none', 'retentiondays' => '3650'])));
    }

    /**
     * Safe Exam Browser configured manually must let the camera through to a proctored quiz's pages.
     */
    public function test_safe_exam_browser_configured_manually_must_allow_the_camera(): void {
        $manual = \quizaccess_seb\settings_provider::USE_SEB_CONFIG_MANUALLY;
        $errors = proctoring_settings::validate(self::form() + ['seb_requiresafeexambrowser' => (string) $manual,
            'seb_allowcapturecamera' => '0']);
        $this->assertSame(['seb_allowcapturecamera'], array_keys($errors));
        $this->assertSame('err_sebcamera', $errors['seb_allowcapturecamera'][0]);
        $this->assertSame([], proctoring_settings::validate(self::form() + [
            'seb_requiresafeexambrowser' => (string) $manual, 'seb_allowcapturecamera' => '1']));
        // Without Safe Exam Browser, or without proctoring, the camera setting is not the plugin's concern.
        $this->assertSame([], proctoring_settings::validate(self::form() + [
            'seb_requiresafeexambrowser' => (string) \quizaccess_seb\settings_provider::USE_SEB_NO,
            'seb_allowcapturecamera' => '0']));
        $this->assertSame([], proctoring_settings::validate(self::form(['enabled' => 0]) + [
            'seb_requiresafeexambrowser' => (string) $manual, 'seb_allowcapturecamera' => '0']));
    }

    /**
     * With proctoring off nothing is checked, so other quiz settings can be saved.
     */
    public function test_disabled_is_not_validated(): void {
        $this->assertSame([], proctoring_settings::validate(self::form(['enabled' => 0, 'intervalmin' => 'x'])));
        $this->assertSame([], proctoring_settings::validate([]));
    }

    /**
     * A table row takes the unprefixed fields with their types.
     */
    public function test_to_record(): void {
        $quiz = (object) (self::form(['retentiondays' => ' 30 ']) + ['id' => '7']);
        $record = proctoring_settings::to_record($quiz);
        $this->assertEquals(
            (object) ['quizid' => 7, 'enabled' => 1, 'intervalmin' => 30, 'intervalmax' => 90,
            'imagewidth' => 480, 'identitycheck' => 'match', 'threshold' => 60, 'retentiondays' => 30, 'alerts' => 1],
            $record
        );
        $this->assertNull(proctoring_settings::to_record((object) (self::form() + ['id' => 7]))->retentiondays);
        $defaults = proctoring_settings::defaults((object) ['intervalmin' => '20']);
        $this->assertEquals(
            (object) ['quizid' => 7, 'enabled' => 1, 'intervalmin' => 20, 'intervalmax' => 90,
            'imagewidth' => 320, 'identitycheck' => 'none', 'threshold' => 60, 'retentiondays' => null, 'alerts' => 1],
            proctoring_settings::to_record((object) ['id' => 7, 'proctorpy_enabled' => 1], $defaults),
            'Missing fields take the defaults'
        );
    }

    /**
     * The snapshot uses the sidecar's names and types.
     */
    public function test_snapshot(): void {
        $quiz = (object) self::form(['retentiondays' => '14']);
        $this->assertSame(['interval_min' => 30, 'interval_max' => 90, 'identity_check' => 'match', 'threshold' => 60,
            'retention_days' => 14], proctoring_settings::snapshot($quiz));
        $this->assertNull(proctoring_settings::snapshot((object) self::form())['retention_days']);
    }

    /**
     * Defaults come from the site settings; a new quiz starts with proctoring off.
     */
    public function test_defaults(): void {
        $defaults = proctoring_settings::defaults((object) ['intervalmin' => '20', 'intervalmax' => '40',
            'imagewidth' => '320', 'threshold' => '50']);
        $this->assertSame(0, $defaults['enabled']);
        $this->assertSame([20, 40, 320, 50], [$defaults['intervalmin'], $defaults['intervalmax'], $defaults['imagewidth'],
            $defaults['threshold']]);
        $this->assertTrue(proctoring_settings::is_enabled((object) ['proctorpy_enabled' => '1']));
        $this->assertFalse(proctoring_settings::is_enabled((object) ['proctorpy_enabled' => null]));
    }
}
