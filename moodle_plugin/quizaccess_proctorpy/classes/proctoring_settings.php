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
 * A quiz's proctoring settings: names, limits, validation and the snapshot sent to the sidecar.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy;

/**
 * The per-quiz settings, independent of Moodle's form and database classes.
 *
 * In the quiz form and in the quiz object loaded by the access manager every field carries the
 * prefix `proctorpy_`; in the table `quizaccess_proctorpy` it does not.
 */
class proctoring_settings {
    /** Prefix of form fields and loaded quiz properties. */
    const PREFIX = 'proctorpy_';

    /** Identity check choices, as the sidecar names them. */
    const IDENTITY_CHECKS = ['none', 'face', 'match'];

    /** Shortest capture interval a quiz may ask for, in seconds: each camshot is a Moodle request. */
    const MIN_INTERVAL = 5;
    /** Longest capture interval, in seconds. */
    const MAX_INTERVAL = 3600;
    /** Narrowest camshot, in pixels: below this faces are too small to analyse. */
    const MIN_WIDTH = 160;
    /** Widest camshot, in pixels. */
    const MAX_WIDTH = 1920;
    /** Longest retention override, in days. */
    const MAX_RETENTION_DAYS = 3650;

    /** Fields stored per quiz, with their type: int, or string for identitycheck, ?int for retention. */
    const FIELDS = [
        'enabled' => 'int',
        'intervalmin' => 'int',
        'intervalmax' => 'int',
        'imagewidth' => 'int',
        'identitycheck' => 'string',
        'threshold' => 'int',
        'retentiondays' => '?int',
        'alerts' => 'int',
    ];

    /**
     * Defaults for a quiz that has no settings yet, from the site settings.
     *
     * @param object $siteconfig get_config('quizaccess_proctorpy')
     * @return array field => value, without prefix
     */
    public static function defaults($siteconfig): array {
        return [
            'enabled' => 0,
            'intervalmin' => (int) ($siteconfig->intervalmin ?? 30),
            'intervalmax' => (int) ($siteconfig->intervalmax ?? 90),
            'imagewidth' => (int) ($siteconfig->imagewidth ?? 320),
            'identitycheck' => 'none',
            'threshold' => (int) ($siteconfig->threshold ?? 60),
            'retentiondays' => null,
            // Teachers hear of flagged attempts unless the quiz says otherwise.
            'alerts' => 1,
        ];
    }

    /**
     * Validate submitted form data.
     *
     * @param array $data form data, fields with prefix
     * @return array field (with prefix) => [lang string id, value for the string]
     */
    public static function validate(array $data): array {
        if (empty($data[self::PREFIX . 'enabled'])) {
            return [];
        }
        $errors = [];
        $value = function ($name) use ($data) {
            return trim((string) ($data[self::PREFIX . $name] ?? ''));
        };
        $min = $value('intervalmin');
        $max = $value('intervalmax');
        if (!self::is_int_between($min, self::MIN_INTERVAL, self::MAX_INTERVAL)) {
            $errors[self::PREFIX . 'intervalmin'] = ['err_interval',
                ['min' => self::MIN_INTERVAL, 'max' => self::MAX_INTERVAL]];
        }
        if (!self::is_int_between($max, self::MIN_INTERVAL, self::MAX_INTERVAL)) {
            $errors[self::PREFIX . 'intervalmax'] = ['err_interval',
                ['min' => self::MIN_INTERVAL, 'max' => self::MAX_INTERVAL]];
        } else if (!isset($errors[self::PREFIX . 'intervalmin']) && (int) $max < (int) $min) {
            $errors[self::PREFIX . 'intervalmax'] = ['err_intervalorder', null];
        }
        if (!self::is_int_between($value('imagewidth'), self::MIN_WIDTH, self::MAX_WIDTH)) {
            $errors[self::PREFIX . 'imagewidth'] = ['err_imagewidth', ['min' => self::MIN_WIDTH, 'max' => self::MAX_WIDTH]];
        }
        if (!in_array($value('identitycheck'), self::IDENTITY_CHECKS, true)) {
            $errors[self::PREFIX . 'identitycheck'] = ['err_identitycheck', null];
        }
        if (!self::is_int_between($value('threshold'), 0, 100)) {
            $errors[self::PREFIX . 'threshold'] = ['err_threshold', null];
        }
        $retention = $value('retentiondays');
        if ($retention !== '' && !self::is_int_between($retention, 1, self::MAX_RETENTION_DAYS)) {
            $errors[self::PREFIX . 'retentiondays'] = ['err_retentiondays', self::MAX_RETENTION_DAYS];
        }
        // Safe Exam Browser configured in the quiz form keeps the camera from pages unless it is let through:
        // every attempt would stop at the camera check. (A template, an uploaded or a client configuration is
        // outside this form: the teacher guide says which key it needs.)
        if (
            (int) ($data['seb_requiresafeexambrowser'] ?? 0) === \quizaccess_seb\settings_provider::USE_SEB_CONFIG_MANUALLY
            && empty($data['seb_allowcapturecamera'])
        ) {
            $errors['seb_allowcapturecamera'] = ['err_sebcamera', null];
        }
        return $errors;
    }

    /**
     * The table row for a quiz from the saved form data.
     *
     * A field the data lacks (saved by a generator or a web service rather than the quiz form)
     * takes its default, never 0 or ''.
     *
     * @param object $quiz form data with prefixed fields and `id`
     * @param array $defaults field => value without prefix, as defaults() gives them
     * @return \stdClass row of quizaccess_proctorpy without id
     */
    public static function to_record($quiz, array $defaults = []): \stdClass {
        $record = new \stdClass();
        $record->quizid = (int) $quiz->id;
        foreach (self::FIELDS as $name => $type) {
            $raw = $quiz->{self::PREFIX . $name} ?? $defaults[$name] ?? null;
            if ($type === 'string') {
                $record->$name = (string) $raw;
            } else if ($type === '?int') {
                $record->$name = ($raw === null || trim((string) $raw) === '') ? null : (int) $raw;
            } else {
                $record->$name = (int) $raw;
            }
        }
        return $record;
    }

    /**
     * Whether a loaded quiz has proctoring on.
     *
     * @param object $quiz quiz with prefixed settings, as the access manager loads it
     * @return bool
     */
    public static function is_enabled($quiz): bool {
        return !empty($quiz->{self::PREFIX . 'enabled'});
    }

    /**
     * The quiz's settings as the sidecar records them with each attempt.
     *
     * @param object $quiz quiz with prefixed settings
     * @return array interval_min, interval_max, identity_check, threshold, retention_days
     */
    public static function snapshot($quiz): array {
        $retention = $quiz->{self::PREFIX . 'retentiondays'} ?? null;
        return [
            'interval_min' => (int) $quiz->{self::PREFIX . 'intervalmin'},
            'interval_max' => (int) $quiz->{self::PREFIX . 'intervalmax'},
            'identity_check' => (string) $quiz->{self::PREFIX . 'identitycheck'},
            'threshold' => (int) $quiz->{self::PREFIX . 'threshold'},
            'retention_days' => ($retention === null || $retention === '') ? null : (int) $retention,
        ];
    }

    /**
     * Whether text is a whole number within bounds.
     *
     * @param string $text candidate
     * @param int $min lowest allowed
     * @param int $max highest allowed
     * @return bool
     */
    private static function is_int_between(string $text, int $min, int $max): bool {
        return (bool) preg_match('/^-?\d{1,9}$/', $text) && (int) $text >= $min && (int) $text <= $max;
    }
}
