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
 * Tests of the report page's template around the sidecar's fragments.
 *
 * @package    quizaccess_proctorpy
 * @category   test
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy;

#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\local\overview_filters::class)]
/**
 * The report page: the attempts overview, wider than Moodle's content column, scrolls sideways inside it, under its
 * filters; an attempt's review form says what a conclusion does.
 *
 * @covers \quizaccess_proctorpy\local\overview_filters
 */
final class report_page_test extends \advanced_testcase {
    /** A fragment as wide as the sidecar's overview: one row, many columns. */
    const WIDE_TABLE = '<section class="ppo"><div class="ppo-wrap"><table id="overview"><tr><td>Student</td>'
        . '<td>Score</td><td>Flag</td><td>Review</td></tr></table></div></section>';

    /**
     * The report page rendered around a fragment, as a DOM.
     *
     * @param array $context template context besides the fragment
     * @return \DOMXPath
     */
    private static function render(array $context): \DOMXPath {
        global $OUTPUT;
        $html = $OUTPUT->render_from_template(
            'quizaccess_proctorpy/report',
            $context + ['fragment' => self::WIDE_TABLE, 'backurl' => '#', 'sesskey' => 'abc', 'actionurl' => '#']
        );
        $document = new \DOMDocument();
        $document->loadHTML('<!DOCTYPE html><html><body>' . $html . '</body></html>', LIBXML_NOERROR);
        return new \DOMXPath($document);
    }

    /**
     * XPath of a div carrying a class.
     *
     * @param string $class CSS class
     * @return string
     */
    private static function div_with(string $class): string {
        return "//div[contains(concat(' ', normalize-space(@class), ' '), ' {$class} ')]";
    }

    /**
     * The overview's table sits in Moodle's table-responsive, which the page's styles target.
     */
    public function test_overview_is_wrapped_in_table_responsive(): void {
        $xpath = self::render(['csvurl' => '#']);

        $this->assertSame(1, $xpath->query(self::div_with('table-responsive') . "//table[@id='overview']")->length);
        $this->assertSame(1, $xpath->query(self::div_with('quizaccess_proctorpy-overview')
            . "//table[@id='overview']")->length);
    }

    /**
     * The overview's filters by flag and review state keep the sort and the search, and show the chosen ones.
     */
    public function test_overview_filters_by_flag_and_review_state(): void {
        $filters = local\overview_filters::context(5, ['sort' => 'score', 'dir' => 'desc', 'flagged' => '1', 'review' => 'none',
            'q' => 'Ada', 'page' => '', 'perpage' => '']);
        $xpath = self::render(['filters' => $filters]);

        $form = "//form[@data-region='overviewfilters'][@method='get'][contains(@action, '/proctorpy/report.php')]";
        $hidden = [];
        foreach ($xpath->query("$form/input[@type='hidden']") as $input) {
            $hidden[$input->getAttribute('name')] = $input->getAttribute('value');
        }
        $this->assertSame(['cmid' => '5', 'sort' => 'score', 'dir' => 'desc', 'q' => 'Ada'], $hidden);
        $options = function (string $name) use ($xpath, $form): array {
            $found = [];
            foreach ($xpath->query("$form//select[@name='$name']/option") as $option) {
                $found[$option->getAttribute('value')] = [trim($option->textContent), $option->hasAttribute('selected')];
            }
            return $found;
        };
        $this->assertSame([
            '' => [get_string('filterflagged_all', 'quizaccess_proctorpy'), false],
            '1' => [get_string('filterflagged_1', 'quizaccess_proctorpy'), true],
            '0' => [get_string('filterflagged_0', 'quizaccess_proctorpy'), false],
        ], $options('flagged'));
        $this->assertSame(['', 'none', 'accepted', 'rejected'], array_map('strval', array_keys($options('review'))));
        $this->assertSame([false, true, false, false], array_column($options('review'), 1));
        $this->assertSame(1, $xpath->query("$form//label[@for='quizaccess_proctorpy-filterreview']")->length);
    }

    /**
     * The review form says that a conclusion is the teacher's record, not a change of the grade.
     */
    public function test_review_form_says_what_a_conclusion_does(): void {
        $xpath = self::render(['attempt' => true, 'canreview' => true]);

        $said = $xpath->query("//form//p[@data-region='reviewexplained']");
        $this->assertSame(1, $said->length);
        $this->assertSame(get_string('reviewexplained', 'quizaccess_proctorpy'), trim($said->item(0)->textContent));
        $this->assertSame(0, self::render(['attempt' => true])->query("//p[@data-region='reviewexplained']")->length);
    }

    /**
     * An attempt's report is not wrapped: it lays itself out and a scrolling box would clip it.
     */
    public function test_attempt_report_is_not_wrapped(): void {
        $xpath = self::render(['attempt' => true]);

        $this->assertSame(1, $xpath->query("//table[@id='overview']")->length);
        $this->assertSame(0, $xpath->query(self::div_with('table-responsive'))->length);
        $this->assertSame(0, $xpath->query(self::div_with('quizaccess_proctorpy-overview'))->length);
    }

    /**
     * The plugin's styles only reach the overview and the live view, and let the overview's header cells wrap.
     */
    public function test_styles_apply_to_the_overview_only(): void {
        global $CFG;
        $css = file_get_contents($CFG->dirroot . '/mod/quiz/accessrule/proctorpy/styles.css');
        $css = preg_replace('~/\*.*?\*/~s', '', $css);
        preg_match_all('~([^{}]+)\{([^}]*)\}~', $css, $rules, PREG_SET_ORDER);
        $this->assertNotEmpty($rules);
        foreach ($rules as [, $selectors]) {
            foreach (explode(',', $selectors) as $selector) {
                $this->assertMatchesRegularExpression('~^\.quizaccess_proctorpy-(overview|live)[ .]~', trim($selector));
            }
        }
        $this->assertMatchesRegularExpression(
            '~\.quizaccess_proctorpy-overview \.ppo th\s*\{[^}]*white-space:\s*normal~',
            $css
        );
    }
}
