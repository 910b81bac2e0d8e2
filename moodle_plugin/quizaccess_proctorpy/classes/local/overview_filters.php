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
 * The overview's filters by flag and review state.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy\local;

/**
 * The form above the overview that lists only the flagged attempts, or those not reviewed yet (or both).
 *
 * Its values are the sidecar's overview parameters (flagged: 1 or 0; review: none, accepted or rejected), which the
 * sidecar checks; the sort and the name searched for are kept as they are.
 */
class overview_filters {
    /** Values of the flag filter, empty for every attempt. */
    const FLAGGED = ['', '1', '0'];

    /** Values of the review filter, empty for every attempt. */
    const REVIEW = ['', 'none', 'accepted', 'rejected'];

    /**
     * The filter form's context for the report template.
     *
     * @param int $cmid the quiz's course module id
     * @param array $params the overview's parameters as the page received them (api::OVERVIEW_PARAMS)
     * @return array action, hidden fields, and the options of each filter with the chosen one selected
     */
    public static function context(int $cmid, array $params): array {
        $hidden = [['name' => 'cmid', 'value' => $cmid]];
        foreach (['sort', 'dir', 'q'] as $name) {
            if (($params[$name] ?? '') !== '') {
                $hidden[] = ['name' => $name, 'value' => $params[$name]];
            }
        }
        return [
            'action' => (new \moodle_url('/mod/quiz/accessrule/proctorpy/report.php'))->out(false),
            'hidden' => $hidden,
            'flagged' => self::options('filterflagged', self::FLAGGED, (string) ($params['flagged'] ?? '')),
            'review' => self::options('filterreview', self::REVIEW, (string) ($params['review'] ?? '')),
        ];
    }

    /**
     * One filter's options, labelled by the strings <prefix>_<value> (<prefix>_all for the empty value).
     *
     * @param string $prefix the strings' prefix
     * @param string[] $values the values
     * @param string $chosen the value chosen
     * @return array[] value, label, selected
     */
    private static function options(string $prefix, array $values, string $chosen): array {
        return array_map(function (string $value) use ($prefix, $chosen): array {
            return [
                'value' => $value,
                'label' => get_string($prefix . '_' . ($value === '' ? 'all' : $value), 'quizaccess_proctorpy'),
                'selected' => $value === $chosen,
            ];
        }, $values);
    }
}
