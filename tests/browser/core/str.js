// Stand-in for Moodle's core/str: the plugin's English strings, served from its lang file.
define([], function() {
    var strings = null;
    var load = function() {
        strings = strings || fetch('/strings.json').then(function(response) {
            return response.json();
        });
        return strings;
    };
    return {
        getString: function(key) {
            return load().then(function(all) {
                return all[key] === undefined ? '[[' + key + ']]' : all[key];
            });
        }
    };
});
