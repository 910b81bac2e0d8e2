// Build amd/build/<name>.min.js (+ .map) from amd/src/<name>.js: `npm install && npm run build`.
// Moodle's RequireJS loads named AMD modules; ES module syntax is turned into
// define("quizaccess_proctorpy/<name>", [...], ...) and minified, as Moodle's own grunt build does.
'use strict';

const fs = require('fs');
const path = require('path');
const babel = require('@babel/core');
const {minify} = require('terser');

const COMPONENT = 'quizaccess_proctorpy';
const SRC = path.join(__dirname, 'amd', 'src');
const BUILD = path.join(__dirname, 'amd', 'build');

const build = async(file) => {
    const name = path.basename(file, '.js');
    const source = fs.readFileSync(path.join(SRC, file), 'utf8');
    const result = babel.transformSync(source, {
        filename: path.join(SRC, file),
        sourceFileName: '../src/' + file,
        babelrc: false,
        configFile: false,
        moduleIds: true,
        getModuleId: () => COMPONENT + '/' + name,
        // Browsers that Moodle 4.5 supports run async functions and classes natively.
        presets: [['@babel/preset-env', {targets: 'chrome 90, firefox 90, safari 15, edge 90', modules: false}]],
        plugins: ['@babel/plugin-transform-modules-amd'],
        sourceMaps: true,
    });
    const minified = await minify(result.code, {
        sourceMap: {content: result.map, url: name + '.min.js.map'},
        format: {comments: false},
    });
    fs.writeFileSync(path.join(BUILD, name + '.min.js'), minified.code);
    fs.writeFileSync(path.join(BUILD, name + '.min.js.map'), minified.map);
    return name;
};

(async() => {
    fs.mkdirSync(BUILD, {recursive: true});
    for (const file of fs.readdirSync(SRC).filter((f) => f.endsWith('.js')).sort()) {
        process.stdout.write('built ' + COMPONENT + '/' + await build(file) + '\n');
    }
})().catch((error) => {
    process.stderr.write(String(error.stack || error) + '\n');
    process.exit(1);
});
