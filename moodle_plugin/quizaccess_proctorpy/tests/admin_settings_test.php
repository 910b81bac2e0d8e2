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

defined('MOODLE_INTERNAL') || die();

global $CFG;
require_once($CFG->libdir . '/adminlib.php');

#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\admin\public_path_setting::class)]
/**
 * Tests of the site settings: their defaults after install, and the settings page saving them.
 *
 * @package    quizaccess_proctorpy
 * @category   test
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 * @covers     \quizaccess_proctorpy\admin\public_path_setting
 */
final class admin_settings_test extends \advanced_testcase {
    /** Every setting of settings.php, with the value install writes. */
    const DEFAULTS = [
        'sidecarurl' => 'http://127.0.0.1:8765',
        'secret' => '',
        'consoleurl' => '',
        'bypasscurlsecurity' => '1',
        'requesttimeout' => '10',
        'uploadmode' => 'forwarded',
        'publicpath' => '/proctorpy/',
        'tokenlifetime' => '14400',
        'intervalmin' => '30',
        'intervalmax' => '90',
        'imagewidth' => '320',
        'threshold' => '60',
        'consenttext' => '',
        'purgeondelete' => '1',
    ];

    /**
     * The admin tree, built in full as the site administration builds it, for the admin.
     */
    protected function setUp(): void {
        parent::setUp();
        $this->resetAfterTest();
        $this->setAdminUser();
    }

    /**
     * The plugin's settings page.
     *
     * @return \admin_settingpage
     */
    private static function settings_page(): \admin_settingpage {
        $page = admin_get_root(true, true)->locate('modsettingsquizcatproctorpy');
        if (!$page instanceof \admin_settingpage) {
            throw new \coding_exception('No settings page modsettingsquizcatproctorpy in the admin tree');
        }
        return $page;
    }

    /**
     * The plugin's settings on its page (headings left out), by name.
     *
     * @return \admin_setting[]
     */
    private static function settings(): array {
        $settings = [];
        foreach (self::settings_page()->settings as $setting) {
            if ($setting->plugin === 'quizaccess_proctorpy' && !$setting instanceof \admin_setting_heading) {
                $settings[$setting->name] = $setting;
            }
        }
        return $settings;
    }

    /**
     * Install wrote every setting's default: nothing reads an unset value.
     */
    public function test_every_setting_has_its_default_after_install(): void {
        $settings = self::settings();
        $this->assertEqualsCanonicalizing(
            array_keys(self::DEFAULTS),
            array_keys($settings),
            'DEFAULTS lists exactly the settings of settings.php'
        );
        $config = get_config('quizaccess_proctorpy');
        foreach ($settings as $name => $setting) {
            $this->assertTrue(property_exists($config, $name), $name . ' is in get_config()');
            $this->assertSame(self::DEFAULTS[$name], (string) $config->$name, $name . ' has its default');
            $this->assertNotNull($setting->get_setting(), $name);
        }
    }

    /**
     * The settings page's heading links to the connection test and the console.
     */
    public function test_settings_page_links(): void {
        $html = self::settings_page()->output_html();
        $this->assertStringContainsString('/mod/quiz/accessrule/proctorpy/testconnection.php', $html);
        $this->assertStringContainsString('/mod/quiz/accessrule/proctorpy/console.php', $html);
    }

    /**
     * The page follows the admin's work: the sidecar and its secret, the note to save before testing them, the
     * console's address, then what quizzes default to.
     */
    public function test_settings_come_in_the_order_an_admin_works(): void {
        $names = [];
        foreach (self::settings_page()->settings as $setting) {
            $names[] = $setting->name;
        }
        $order = ['sidecarurl', 'secret', 'testconnectionheading', 'consoleurl', 'uploadmode', 'intervalmin', 'consenttext'];
        $positions = array_map(fn($name) => array_search($name, $names, true), $order);
        $this->assertNotContains(false, $positions, implode(', ', $names));
        $sorted = $positions;
        sort($sorted);
        $this->assertSame($sorted, $positions, implode(', ', $names));

        $html = self::settings_page()->output_html();
        $note = strpos($html, get_string('testconnection_savefirst', 'quizaccess_proctorpy'));
        $this->assertNotFalse($note);
        $this->assertLessThan(strpos($html, '/mod/quiz/accessrule/proctorpy/testconnection.php'), $note);
    }

    /**
     * Saving the page with valid values stores them all, the secret and the public path included.
     */
    public function test_saving_valid_values(): void {
        $submitted = [
            'sidecarurl' => 'http://127.0.0.1:9876',
            'secret' => 'a-long-shared-secret-0123456789',
            'consoleurl' => 'https://moodle.example.edu/proctorpy',
            'bypasscurlsecurity' => '0',
            'requesttimeout' => '20',
            'uploadmode' => 'direct',
            'publicpath' => '/exam-sidecar/v1/',
            'intervalmin' => '10',
            'intervalmax' => '20',
            'imagewidth' => '640',
            'threshold' => '75',
            'consenttext' => '<p>Our own consent text.</p>',
            'purgeondelete' => '0',
        ];
        $form = [];
        foreach ($submitted as $name => $value) {
            $form['s_quizaccess_proctorpy_' . $name] = $value;
        }
        $form['s_quizaccess_proctorpy_tokenlifetime'] = ['v' => '2', 'u' => HOURSECS];

        $count = admin_write_settings($form);

        $this->assertSame([], admin_get_root()->errors);
        $this->assertSame(count($submitted) + 1, $count);
        $config = get_config('quizaccess_proctorpy');
        foreach ($submitted as $name => $value) {
            $this->assertSame($value, $config->$name, $name);
        }
        $this->assertSame('7200', $config->tokenlifetime);
    }

    /**
     * An invalid public path is refused with the setting's own message, not an exception, and the old value stays.
     *
     * The paths direct upload accepts are tested one by one in direct_upload_test; these are the kinds an admin may type.
     */
    public function test_invalid_public_path_is_refused(): void {
        $counts = [];
        foreach (['proctorpy/', '/proctorpy/../admin/', "/proctorpy/\n", 'https://example.com/proctorpy/'] as $path) {
            $counts[] = admin_write_settings(['s_quizaccess_proctorpy_publicpath' => $path,
                's_quizaccess_proctorpy_secret' => 'saved-with-the-rest']);
            $errors = admin_get_root()->errors;
            $this->assertSame(['s_quizaccess_proctorpy_publicpath'], array_keys($errors), $path);
            $this->assertSame(
                get_string('publicpath_invalid', 'quizaccess_proctorpy'),
                $errors['s_quizaccess_proctorpy_publicpath']->error
            );
            $this->assertSame('/proctorpy/', get_config('quizaccess_proctorpy', 'publicpath'));
            $this->assertSame('saved-with-the-rest', get_config('quizaccess_proctorpy', 'secret'));
            admin_get_root()->errors = [];
        }
        $this->assertSame([1, 0, 0, 0], $counts, 'The secret is saved the first time, the path never');
    }

    /**
     * Settings that take a number refuse text, as Moodle's own text settings do.
     */
    public function test_number_settings_refuse_text(): void {
        admin_write_settings(['s_quizaccess_proctorpy_intervalmin' => 'soon',
            's_quizaccess_proctorpy_requesttimeout' => 'ten']);
        $this->assertEqualsCanonicalizing(
            ['s_quizaccess_proctorpy_intervalmin', 's_quizaccess_proctorpy_requesttimeout'],
            array_keys(admin_get_root()->errors)
        );
        $this->assertSame('30', get_config('quizaccess_proctorpy', 'intervalmin'));
    }
}
