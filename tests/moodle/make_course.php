<?php
// This file is part of the proctorpy test suite, not of the plugin.
//
// Creates the test course with Moodle's own data generators: a course, an editing teacher, a
// non-editing teacher, students whose profile pictures are real face photos, and a quiz with two
// questions. Prints the ids as JSON. A journey that changes what others read (a quiz's settings, a
// student's data) asks for a quiz or a student of its own in that course.
//
// Usage: php make_course.php MOODLEROOT FACESDIR
//        php make_course.php MOODLEROOT FACESDIR quiz NAME                          prints {"quiz", "cmid"}
//        php make_course.php MOODLEROOT FACESDIR student USERNAME FIRST LAST PHOTO  prints {"user"}
//        php make_course.php MOODLEROOT FACESDIR picture USERNAME PHOTO             a new profile picture; {"user"}

define('CLI_SCRIPT', true);
require($argv[1] . '/config.php');
// The question generator builds on Moodle's PHPUnit helpers: PHPUnit provides their base classes, Debian's 9.6 for
// Moodle 4.x, or the autoloader PROCTORPY_PHPUNIT_AUTOLOAD names (PHPUnit 11 for Moodle 5.x).
require_once(getenv('PROCTORPY_PHPUNIT_AUTOLOAD') ?: '/usr/share/php/PHPUnit/Autoload.php');
require_once($CFG->libdir . '/testing/classes/util.php');
require_once($CFG->libdir . '/testing/generator/lib.php');
require_once($CFG->dirroot . '/user/lib.php');
require_once($CFG->libdir . '/gdlib.php');

$facesdir = $argv[2];
\core\session\manager::set_user(get_admin());
$generator = testing_util::get_data_generator();

/**
 * Give a user a profile picture from a photo file, as user/editlib.php does.
 *
 * @param stdClass $user the user
 * @param string $photo path of the photo
 */
function proctorpy_set_picture(stdClass $user, string $photo): void {
    global $DB, $CFG;
    $context = context_user::instance($user->id);
    $tmp = make_request_directory() . '/' . basename($photo);
    copy($photo, $tmp);
    $fileid = process_new_icon($context, 'user', 'icon', 0, $tmp);
    $DB->set_field('user', 'picture', $fileid, ['id' => $user->id]);
}

/**
 * A user enrolled in the course with a role, and a profile picture when a photo is given (relative to FACESDIR).
 *
 * @param testing_data_generator $generator Moodle's data generator
 * @param stdClass $course the course
 * @param string $username the username, also the start of the e-mail address
 * @param array $person first name, last name, role's shortname, photo (in FACESDIR) or null
 * @param string $facesdir the folder of the photos
 * @return int the user's id
 */
function proctorpy_make_user(testing_data_generator $generator, stdClass $course, string $username, array $person,
        string $facesdir): int {
    [$first, $last, $role, $photo] = $person;
    $user = $generator->create_user(['username' => $username, 'password' => 'Test-pass-1',
        'firstname' => $first, 'lastname' => $last, 'email' => $username . '@example.invalid']);
    $generator->enrol_user($user->id, $course->id, $role);
    if ($photo) {
        proctorpy_set_picture($user, $facesdir . '/' . $photo);
    }
    return (int) $user->id;
}

/**
 * A quiz of the course with two true/false questions, one a page.
 *
 * @param testing_data_generator $generator Moodle's data generator
 * @param stdClass $course the course
 * @param string $name the quiz's name
 * @return array the quiz's id and its course module's id
 */
function proctorpy_make_quiz(testing_data_generator $generator, stdClass $course, string $name): array {
    $quiz = $generator->create_module('quiz', ['course' => $course->id, 'name' => $name,
        'questionsperpage' => 1, 'grade' => 10, 'sumgrades' => 2]);
    $questiongenerator = $generator->get_plugin_generator('core_question');
    $category = $questiongenerator->create_question_category(['contextid' => context_module::instance($quiz->cmid)->id]);
    foreach (['Is the Analytical Engine programmable?', 'Did it use punched cards?'] as $text) {
        $question = $questiongenerator->create_question('truefalse', null,
            ['category' => $category->id, 'questiontext' => ['text' => $text, 'format' => FORMAT_HTML]]);
        quiz_add_quiz_question($question->id, $quiz, 0);
    }
    return ['quiz' => (int) $quiz->id, 'cmid' => (int) $quiz->cmid];
}

$what = $argv[3] ?? 'course';
if ($what === 'quiz') {
    $course = $DB->get_record('course', ['shortname' => 'AE101'], '*', MUST_EXIST);
    echo json_encode(proctorpy_make_quiz($generator, $course, $argv[4])), "\n";
    exit(0);
}
if ($what === 'picture') {
    $user = $DB->get_record('user', ['username' => $argv[4]], '*', MUST_EXIST);
    proctorpy_set_picture($user, $facesdir . '/' . $argv[5]);
    echo json_encode(['user' => (int) $user->id]), "\n";
    exit(0);
}
if ($what === 'student') {
    $course = $DB->get_record('course', ['shortname' => 'AE101'], '*', MUST_EXIST);
    echo json_encode(['user' => proctorpy_make_user($generator, $course, $argv[4], [$argv[5], $argv[6], 'student', $argv[7]],
        $facesdir)]), "\n";
    exit(0);
}

$course = $generator->create_course(['fullname' => 'Analytical Engines 101', 'shortname' => 'AE101']);
$people = [
    'teacher' => ['Grace', 'Hopper', 'editingteacher', null],
    'nonediting' => ['Alan', 'Turing', 'teacher', null],
    'student1' => ['Barack', 'Obama', 'student', 'obama/obama.jpg'],
    // Moodle crops a profile picture to its centre square: biden.jpg (a tall portrait) would lose the face.
    'student2' => ['Joe', 'Biden', 'student', 'biden/biden2.jpg'],
    'student3' => ['Kit', 'Harington', 'student', 'kit_harington/john1.jpeg'],
    'student4' => ['Rose', 'Leslie', 'student', 'rose_leslie/img1.jpg'],
];
$users = [];
foreach ($people as $username => $person) {
    $users[$username] = proctorpy_make_user($generator, $course, $username, $person, $facesdir);
}
$quiz = proctorpy_make_quiz($generator, $course, 'Midterm (proctored)');
echo json_encode(['course' => (int) $course->id, 'quiz' => $quiz['quiz'], 'cmid' => $quiz['cmid'], 'users' => $users]), "\n";
